//! Reading and writing NumPy arrays and torch tensors in place, from their raw memory.
//!
//! A logits matrix arrives as a Python object; its address, shape, strides and element type
//! are read once (torch: one `torch.utils.dlpack.to_dlpack` call, whose DLPack record holds
//! them all — a dozen attribute reads cost three times as much, and a step of a batch-1
//! generation is a few microseconds; other torch-like objects: `data_ptr()`, `shape`,
//! `stride()`, `dtype`; NumPy: the `__array_interface__` dictionary), checked, and then the
//! rows are edited from Rust with the GIL released. Nothing is copied for contiguous float32
//! rows; other element types (float16, bfloat16, float64) and strided rows go through a
//! float32 scratch row, and only the entries the guard changed are written back.
//!
//! Safety rests on the checks made here: the element type is known, the memory is writable
//! and on the CPU, the shape is 1-D or 2-D, and no two (row, column) positions share memory
//! (so rows can be edited in parallel). The Python object is kept alive for as long as its
//! memory is used.

use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCapsule, PyDict, PyTuple, PyType};

use taboo::Applied;

/// Element types a matrix can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    F64,
    I64,
    I32,
    U32,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F16 | Dtype::Bf16 | Dtype::F64)
    }
}

/// A 1-D or 2-D view of memory owned by a Python object. Strides are in elements.
pub struct Matrix {
    ptr: *mut u8,
    pub dtype: Dtype,
    pub rows: usize,
    pub cols: usize,
    row_stride: isize,
    col_stride: isize,
    /// True when the input was 1-D (one row).
    pub one_dim: bool,
    writable: bool,
    _owner: Py<PyAny>,
}

// The view is only used while its owner is alive (it holds a reference), the checks in
// `Matrix::from_object` guarantee that distinct positions do not share memory, and every
// parallel use touches disjoint rows.
unsafe impl Send for Matrix {}
unsafe impl Sync for Matrix {}

/// What a caller accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Float logits to edit in place.
    Logits,
    /// Integer token ids to read.
    TokenIds,
    /// A packed 32-bit mask to write.
    Bitmask,
}

fn torch_dtype(name: &str) -> Option<Dtype> {
    Some(match name {
        "torch.float32" => Dtype::F32,
        "torch.float16" => Dtype::F16,
        "torch.bfloat16" => Dtype::Bf16,
        "torch.float64" => Dtype::F64,
        "torch.int64" => Dtype::I64,
        "torch.int32" => Dtype::I32,
        "torch.uint32" => Dtype::U32,
        _ => return None,
    })
}

/// The element type of a torch dtype object. torch's dtypes are singletons that live as long
/// as the interpreter, so they are remembered by address: one pointer comparison per call
/// instead of formatting the dtype's name.
fn torch_dtype_of(dtype: &Bound<'_, PyAny>) -> PyResult<Option<Dtype>> {
    /// (address, element type, the dtype object itself).
    type Seen = Vec<(usize, Option<Dtype>, Py<PyAny>)>;
    static SEEN: Mutex<Seen> = Mutex::new(Vec::new());
    let addr = dtype.as_ptr() as usize;
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d, _)) = seen.iter().find(|(a, _, _)| *a == addr) {
        return Ok(*d);
    }
    let d = torch_dtype(&dtype.str()?.to_string());
    // The reference held here keeps the address from being reused by another object.
    seen.push((addr, d, dtype.clone().unbind()));
    Ok(d)
}

/// A torch `Size` or stride tuple as integers: read item by item from the tuple (both are
/// tuples), which skips the generic sequence protocol a `Vec` extraction goes through.
fn small_vec<T: for<'a, 'py> FromPyObject<'a, 'py>>(obj: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
    match obj.cast::<PyTuple>() {
        Ok(t) => t.iter().map(|x| x.extract().map_err(Into::into)).collect(),
        Err(_) => obj.extract(),
    }
}

fn numpy_dtype(typestr: &str) -> Option<Dtype> {
    // Native little-endian machine: '<' and '|' (no byte order) are both fine, '>' is not.
    let (order, code) = typestr.split_at(1);
    if order == ">" {
        return None;
    }
    Some(match code {
        "f4" => Dtype::F32,
        "f2" => Dtype::F16,
        "f8" => Dtype::F64,
        "i8" => Dtype::I64,
        "i4" => Dtype::I32,
        "u4" => Dtype::U32,
        _ => return None,
    })
}

fn what(want: Want) -> &'static str {
    match want {
        Want::Logits => "logits",
        Want::TokenIds => "token ids",
        Want::Bitmask => "the bitmask",
    }
}

fn accepted(want: Want) -> &'static str {
    match want {
        Want::Logits => "float32, float16, bfloat16 or float64",
        Want::TokenIds => "int64 or int32",
        Want::Bitmask => "int32 or uint32",
    }
}

fn dtype_ok(want: Want, dtype: Dtype) -> bool {
    match want {
        Want::Logits => dtype.is_float(),
        Want::TokenIds => matches!(dtype, Dtype::I64 | Dtype::I32),
        Want::Bitmask => matches!(dtype, Dtype::I32 | Dtype::U32),
    }
}

/// DLPack's C ABI, the unversioned record (`DLManagedTensor` of dlpack.h) that
/// `torch.utils.dlpack.to_dlpack` returns in a capsule named "dltensor". Written out here
/// rather than taken from a crate: five plain structs of a frozen ABI, read and never built.
mod dlpack {
    use std::ffi::c_void;

    pub const CPU: i32 = 1;
    pub const INT: u8 = 0;
    pub const UINT: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const BFLOAT: u8 = 4;

    #[repr(C)]
    pub struct Device {
        pub device_type: i32,
        pub device_id: i32,
    }

    #[repr(C)]
    pub struct DataType {
        pub code: u8,
        pub bits: u8,
        pub lanes: u16,
    }

    #[repr(C)]
    pub struct Tensor {
        pub data: *mut c_void,
        pub device: Device,
        pub ndim: i32,
        pub dtype: DataType,
        pub shape: *const i64,
        /// Null for a compact row-major tensor.
        pub strides: *const i64,
        pub byte_offset: u64,
    }

    /// The capsule's payload. Its producer frees it when the capsule is dropped unconsumed
    /// (the capsule keeps its name "dltensor"), which is how it is used here.
    #[repr(C)]
    pub struct ManagedTensor {
        pub dl_tensor: Tensor,
        pub manager_ctx: *mut c_void,
        pub deleter: Option<unsafe extern "C" fn(*mut ManagedTensor)>,
    }
}

/// `torch.Tensor` and `torch.utils.dlpack.to_dlpack`, found the first time a torch tensor is
/// seen (so that the package never imports torch itself).
struct Torch {
    tensor: Py<PyType>,
    to_dlpack: Py<PyAny>,
}

static TORCH: PyOnceLock<Torch> = PyOnceLock::new();

/// The torch bindings if `obj` is exactly a `torch.Tensor` (subclasses take the attribute
/// path).
fn torch_tensor(obj: &Bound<'_, PyAny>) -> Option<&'static Torch> {
    let py = obj.py();
    if let Some(t) = TORCH.get(py) {
        return obj.get_type().is(t.tensor.bind(py)).then_some(t);
    }
    let ty = obj.get_type();
    if ty.fully_qualified_name().ok()? != "torch.Tensor" {
        return None;
    }
    let tensor = py
        .import("torch")
        .ok()?
        .getattr("Tensor")
        .ok()?
        .cast_into::<PyType>()
        .ok()?
        .unbind();
    let to_dlpack = py
        .import("torch.utils.dlpack")
        .ok()?
        .getattr("to_dlpack")
        .ok()?
        .unbind();
    let t = TORCH.get_or_init(py, || Torch { tensor, to_dlpack });
    obj.get_type().is(t.tensor.bind(py)).then_some(t)
}

/// What [`Matrix::from_object`] reads of an object's memory.
struct Layout {
    ptr: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    strides: Vec<isize>,
    writable: bool,
    /// What keeps the memory alive while it is used.
    owner: Py<PyAny>,
}

/// The layout of a CPU torch tensor of an accepted type, read from its DLPack record; `None`
/// for anything else (another device, another type, a tensor that requires grad), which the
/// attribute path then reports.
fn dlpack_layout(obj: &Bound<'_, PyAny>, want: Want) -> PyResult<Option<Layout>> {
    let Some(torch) = torch_tensor(obj) else {
        return Ok(None);
    };
    let py = obj.py();
    if want != Want::TokenIds && obj.getattr(intern!(py, "requires_grad"))?.is_truthy()? {
        return Ok(None);
    }
    let Ok(capsule) = torch.to_dlpack.bind(py).call1((obj,)) else {
        return Ok(None);
    };
    let capsule = capsule
        .cast_into::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err("to_dlpack did not return a capsule"))?;
    let Ok(p) = capsule.pointer_checked(Some(c"dltensor")) else {
        return Ok(None);
    };
    // The capsule owns a live record until it is dropped, and it is kept as the owner.
    let t = unsafe { &(*(p.as_ptr() as *const dlpack::ManagedTensor)).dl_tensor };
    let dtype = match (t.dtype.code, t.dtype.bits, t.dtype.lanes) {
        (dlpack::FLOAT, 32, 1) => Dtype::F32,
        (dlpack::FLOAT, 16, 1) => Dtype::F16,
        (dlpack::BFLOAT, 16, 1) => Dtype::Bf16,
        (dlpack::FLOAT, 64, 1) => Dtype::F64,
        (dlpack::INT, 64, 1) => Dtype::I64,
        (dlpack::INT, 32, 1) => Dtype::I32,
        (dlpack::UINT, 32, 1) => Dtype::U32,
        _ => return Ok(None),
    };
    if t.device.device_type != dlpack::CPU || !dtype_ok(want, dtype) || !(1..=2).contains(&t.ndim) {
        return Ok(None);
    }
    let ndim = t.ndim as usize;
    // `shape` and `strides` hold `ndim` entries each (or `strides` is null).
    let shape: Vec<usize> = unsafe { std::slice::from_raw_parts(t.shape, ndim) }
        .iter()
        .map(|&d| d as usize)
        .collect();
    let strides: Vec<isize> = if t.strides.is_null() {
        let mut s = vec![1isize; ndim];
        for i in (0..ndim.saturating_sub(1)).rev() {
            s[i] = s[i + 1] * shape[i + 1] as isize;
        }
        s
    } else {
        unsafe { std::slice::from_raw_parts(t.strides, ndim) }
            .iter()
            .map(|&d| d as isize)
            .collect()
    };
    Ok(Some(Layout {
        ptr: t.data as usize + t.byte_offset as usize,
        dtype,
        shape,
        strides,
        writable: true,
        owner: capsule.into_any().unbind(),
    }))
}

impl Matrix {
    /// Reads the memory layout of a torch tensor or a NumPy array (anything with
    /// `__array_interface__`).
    pub fn from_object(obj: &Bound<'_, PyAny>, want: Want) -> PyResult<Matrix> {
        let name = what(want);
        let layout = match dlpack_layout(obj, want)? {
            Some(l) => l,
            None => Self::attribute_layout(obj, want)?,
        };
        let Layout {
            ptr,
            dtype,
            shape,
            strides,
            writable,
            owner,
        } = layout;
        if want != Want::TokenIds && !writable {
            return Err(PyValueError::new_err(format!(
                "{name} are read-only; pass a writable array"
            )));
        }
        let (rows, cols, row_stride, col_stride, one_dim) =
            match (shape.as_slice(), strides.as_slice()) {
                ([c], [cs]) => (1, *c, 0, *cs, true),
                ([r, c], [rs, cs]) => (*r, *c, *rs, *cs, false),
                _ => {
                    return Err(PyValueError::new_err(format!(
                    "{name} must be 1-D (one row) or 2-D (batch × vocabulary); got shape {shape:?}"
                )))
                }
            };
        if rows * cols > 0 && ptr == 0 {
            return Err(PyValueError::new_err(format!(
                "{name} have no memory (null pointer)"
            )));
        }
        // No two positions may share memory: a broadcast (stride 0) or an overlapping view
        // would make one write show up in several places and parallel rows race.
        let overlap = if rows <= 1 {
            cols > 1 && col_stride == 0
        } else if cols <= 1 {
            row_stride == 0
        } else {
            let (r, c) = (row_stride.unsigned_abs(), col_stride.unsigned_abs());
            !(c >= 1 && r > (cols - 1) * c || r >= 1 && c > (rows - 1) * r)
        };
        if overlap {
            return Err(PyValueError::new_err(format!(
                "{name} have overlapping memory (shape {shape:?}, strides {strides:?}); pass a \
                 copy (.contiguous() / np.ascontiguousarray)"
            )));
        }
        if want == Want::Bitmask && (rows != 1 || col_stride != 1) {
            return Err(PyValueError::new_err(
                "the bitmask must be a contiguous 1-D array of 32-bit words",
            ));
        }
        Ok(Matrix {
            ptr: ptr as *mut u8,
            dtype,
            rows,
            cols,
            row_stride,
            col_stride,
            one_dim,
            writable,
            _owner: owner,
        })
    }

    /// The layout from a torch-like object's attributes or NumPy's `__array_interface__`;
    /// errors name what is wrong (device, dtype, grad, type).
    fn attribute_layout(obj: &Bound<'_, PyAny>, want: Want) -> PyResult<Layout> {
        let name = what(want);
        let py = obj.py();
        // Attribute names are interned once: making a Python string for each read would
        // cost as much as the read.
        let data_ptr = obj.getattr(intern!(py, "data_ptr")).ok();
        let (ptr, dtype, shape, strides, writable) = if let Some(data_ptr) = data_ptr {
            if !obj.getattr(intern!(py, "is_cpu"))?.extract::<bool>()? {
                let device = obj.getattr(intern!(py, "device"))?.str()?.to_string();
                return Err(PyValueError::new_err(format!(
                    "{name} are on device {device:?}; this call edits CPU memory (the \
                     processors in taboo.hf and taboo.vllm move other devices' rows for you)"
                )));
            }
            let dtype_obj = obj.getattr(intern!(py, "dtype"))?;
            let dtype = torch_dtype_of(&dtype_obj)?
                .filter(|&d| dtype_ok(want, d))
                .ok_or_else(|| -> PyErr {
                    let shown = dtype_obj
                        .str()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|_| "?".into());
                    PyTypeError::new_err(format!(
                        "{name} have dtype {shown}; expected {}",
                        accepted(want)
                    ))
                })?;
            if want != Want::TokenIds
                && obj
                    .getattr(intern!(py, "requires_grad"))?
                    .extract::<bool>()?
            {
                return Err(PyValueError::new_err(format!(
                    "{name} require grad; edit them under torch.no_grad() or pass .detach()"
                )));
            }
            let shape = small_vec(&obj.getattr(intern!(py, "shape"))?)?;
            let strides = small_vec(&obj.call_method0(intern!(py, "stride"))?)?;
            let ptr: usize = data_ptr.call0()?.extract()?;
            (ptr, dtype, shape, strides, true)
        } else if let Ok(iface) = obj.getattr("__array_interface__") {
            let iface = iface
                .cast_into::<PyDict>()
                .map_err(|_| PyTypeError::new_err("__array_interface__ is not a dictionary"))?;
            let get = |key: &str| -> PyResult<Bound<'_, PyAny>> {
                iface.get_item(key)?.ok_or_else(|| {
                    PyTypeError::new_err(format!("__array_interface__ has no {key:?}"))
                })
            };
            let typestr: String = get("typestr")?.extract()?;
            let dtype = numpy_dtype(&typestr)
                .filter(|&d| dtype_ok(want, d))
                .ok_or_else(|| {
                    PyTypeError::new_err(format!(
                        "{name} have dtype {typestr:?}; expected {} (native byte order)",
                        accepted(want)
                    ))
                })?;
            let data = get("data")?;
            let data = data.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err("the array does not expose its memory address")
            })?;
            let ptr: usize = data.get_item(0)?.extract()?;
            let readonly: bool = data.get_item(1)?.extract()?;
            let shape: Vec<usize> = get("shape")?.extract()?;
            let strides = match iface.get_item("strides")? {
                Some(s) if !s.is_none() => {
                    let bytes: Vec<isize> = s.extract()?;
                    let size = dtype.size() as isize;
                    if bytes.iter().any(|b| b % size != 0) {
                        return Err(PyValueError::new_err(format!(
                            "{name} have strides {bytes:?} bytes, not whole elements"
                        )));
                    }
                    bytes.iter().map(|b| b / size).collect()
                }
                _ => {
                    // C-contiguous.
                    let mut s = vec![1isize; shape.len()];
                    for i in (0..shape.len().saturating_sub(1)).rev() {
                        s[i] = s[i + 1] * shape[i + 1] as isize;
                    }
                    s
                }
            };
            (ptr, dtype, shape, strides, !readonly)
        } else {
            return Err(PyTypeError::new_err(format!(
                "{name} must be a torch tensor or a NumPy array, not {}",
                obj.get_type().name()?
            )));
        };
        Ok(Layout {
            ptr,
            dtype,
            shape,
            strides,
            writable,
            owner: obj.clone().unbind(),
        })
    }

    /// Address of element (r, c).
    fn at(&self, r: usize, c: usize) -> *mut u8 {
        let offset = r as isize * self.row_stride + c as isize * self.col_stride;
        // In bounds by the owner's own shape and strides.
        unsafe { self.ptr.offset(offset * self.dtype.size() as isize) }
    }

    /// Row `r` as a float32 slice, when it is one in memory.
    ///
    /// # Safety
    /// No other reference to row `r` may be alive.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row_f32(&self, r: usize) -> Option<&mut [f32]> {
        if self.dtype == Dtype::F32 && (self.col_stride == 1 || self.cols <= 1) && self.writable {
            let p = self.at(r, 0) as *mut f32;
            if (p as usize) % std::mem::align_of::<f32>() != 0 {
                return None;
            }
            Some(std::slice::from_raw_parts_mut(p, self.cols))
        } else {
            None
        }
    }

    /// Reads element (r, c) as f32.
    fn load(&self, r: usize, c: usize) -> f32 {
        let p = self.at(r, c);
        unsafe {
            match self.dtype {
                Dtype::F32 => (p as *const f32).read_unaligned(),
                Dtype::F16 => half::f16::from_bits((p as *const u16).read_unaligned()).to_f32(),
                Dtype::Bf16 => half::bf16::from_bits((p as *const u16).read_unaligned()).to_f32(),
                Dtype::F64 => (p as *const f64).read_unaligned() as f32,
                Dtype::I64 | Dtype::I32 | Dtype::U32 => unreachable!("not a float matrix"),
            }
        }
    }

    /// Writes element (r, c) from f32.
    fn store(&self, r: usize, c: usize, v: f32) {
        let p = self.at(r, c);
        unsafe {
            match self.dtype {
                Dtype::F32 => (p as *mut f32).write_unaligned(v),
                Dtype::F16 => (p as *mut u16).write_unaligned(half::f16::from_f32(v).to_bits()),
                Dtype::Bf16 => (p as *mut u16).write_unaligned(half::bf16::from_f32(v).to_bits()),
                Dtype::F64 => (p as *mut f64).write_unaligned(v as f64),
                Dtype::I64 | Dtype::I32 | Dtype::U32 => unreachable!("not a float matrix"),
            }
        }
    }

    /// Reads token id (r, c); negative ids are `None`.
    pub fn token(&self, r: usize, c: usize) -> Option<u32> {
        let p = self.at(r, c);
        let v = unsafe {
            match self.dtype {
                Dtype::I64 => (p as *const i64).read_unaligned(),
                Dtype::I32 => (p as *const i32).read_unaligned() as i64,
                Dtype::U32 => (p as *const u32).read_unaligned() as i64,
                _ => unreachable!("not an integer matrix"),
            }
        };
        u32::try_from(v).ok()
    }

    /// Token ids of row `r`, columns `from..`, into `out` (negative ids become `u32::MAX`,
    /// which no vocabulary has: not text).
    pub fn tokens_into(&self, r: usize, from: usize, out: &mut Vec<u32>) {
        out.clear();
        if from >= self.cols {
            return;
        }
        if self.dtype == Dtype::I64 && self.col_stride == 1 {
            // The usual case (torch's int64 input_ids, contiguous rows): one pass over a
            // slice instead of an address computation and a type match per element.
            let p = self.at(r, from) as *const i64;
            if (p as usize) % std::mem::align_of::<i64>() == 0 {
                // In bounds by the owner's shape; aligned as just checked.
                let row = unsafe { std::slice::from_raw_parts(p, self.cols - from) };
                // A select rather than a branch, so that the loop vectorises.
                out.extend(row.iter().map(|&v| {
                    if (0..=u32::MAX as i64).contains(&v) {
                        v as u32
                    } else {
                        u32::MAX
                    }
                }));
                return;
            }
        }
        out.extend((from..self.cols).map(|c| self.token(r, c).unwrap_or(u32::MAX)));
    }

    /// The whole matrix as 32-bit words (a bitmask).
    ///
    /// # Safety
    /// No other reference to the memory may be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn words_mut(&self) -> &mut [u32] {
        std::slice::from_raw_parts_mut(self.ptr as *mut u32, self.cols)
    }

    pub fn check_bitmask_alignment(&self) -> PyResult<()> {
        if (self.ptr as usize) % std::mem::align_of::<u32>() != 0 {
            return Err(PyValueError::new_err("the bitmask is not 4-byte aligned"));
        }
        Ok(())
    }

    /// Runs `edit` on row `r` as a float32 slice: in place when the row is one, else through
    /// `scratch`, writing back only what changed.
    ///
    /// # Safety
    /// No other thread may touch row `r` meanwhile.
    pub unsafe fn edit_row(
        &self,
        r: usize,
        scratch: &mut Scratch,
        edit: impl FnOnce(&mut [f32]) -> Applied,
    ) -> Applied {
        if let Some(row) = self.row_f32(r) {
            return edit(row);
        }
        let Scratch { row, before } = scratch;
        row.clear();
        row.extend((0..self.cols).map(|c| self.load(r, c)));
        before.clear();
        before.extend_from_slice(row);
        let applied = edit(row);
        for (c, (new, old)) in row.iter().zip(before.iter()).enumerate() {
            if new.to_bits() != old.to_bits() {
                self.store(r, c, *new);
            }
        }
        applied
    }
}

/// Per-thread buffers of [`Matrix::edit_row`].
#[derive(Default)]
pub struct Scratch {
    row: Vec<f32>,
    before: Vec<f32>,
}
