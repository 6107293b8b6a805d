//! The storage size of ggml's tensor types, so that the GGUF check can tell how many bytes each
//! tensor's data takes without loading it.
//!
//! Quantised types store elements in blocks: `block` elements in `bytes` bytes (ggml's
//! `blck_size` and `type_size`). A row must hold whole blocks. Ids that ggml retired (4, 5,
//! 31–33, 36–38) are unknown here, as they are to current llama.cpp, which refuses them too.

/// One ggml tensor type: its name and how its elements are packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GgmlType {
    pub(crate) name: &'static str,
    /// Elements per block (1 for plain number types).
    pub(crate) block: u64,
    /// Bytes per block.
    pub(crate) bytes: u64,
}

impl GgmlType {
    /// The type with ggml id `id`, or `None` for an id this reader does not know.
    pub(crate) fn from_id(id: u32) -> Option<GgmlType> {
        let (name, block, bytes) = match id {
            0 => ("F32", 1, 4),
            1 => ("F16", 1, 2),
            2 => ("Q4_0", 32, 18),
            3 => ("Q4_1", 32, 20),
            6 => ("Q5_0", 32, 22),
            7 => ("Q5_1", 32, 24),
            8 => ("Q8_0", 32, 34),
            9 => ("Q8_1", 32, 36),
            10 => ("Q2_K", 256, 84),
            11 => ("Q3_K", 256, 110),
            12 => ("Q4_K", 256, 144),
            13 => ("Q5_K", 256, 176),
            14 => ("Q6_K", 256, 210),
            15 => ("Q8_K", 256, 292),
            16 => ("IQ2_XXS", 256, 66),
            17 => ("IQ2_XS", 256, 74),
            18 => ("IQ3_XXS", 256, 98),
            19 => ("IQ1_S", 256, 50),
            20 => ("IQ4_NL", 32, 18),
            21 => ("IQ3_S", 256, 110),
            22 => ("IQ2_S", 256, 82),
            23 => ("IQ4_XS", 256, 136),
            24 => ("I8", 1, 1),
            25 => ("I16", 1, 2),
            26 => ("I32", 1, 4),
            27 => ("I64", 1, 8),
            28 => ("F64", 1, 8),
            29 => ("IQ1_M", 256, 56),
            30 => ("BF16", 1, 2),
            34 => ("TQ1_0", 256, 54),
            35 => ("TQ2_0", 256, 66),
            39 => ("MXFP4", 32, 17),
            40 => ("NVFP4", 64, 36),
            41 => ("Q1_0", 128, 18),
            42 => ("Q2_0", 64, 18),
            _ => return None,
        };
        Some(GgmlType { name, block, bytes })
    }

    /// Bytes taken by `elements` elements, or `None` if that overflows `u64`. The caller has
    /// checked that rows hold whole blocks, so the division is exact.
    pub(crate) fn data_size(self, elements: u64) -> Option<u64> {
        (elements / self.block).checked_mul(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::GgmlType;

    #[test]
    fn sizes_of_common_types() {
        let q4k = GgmlType::from_id(12).unwrap();
        assert_eq!(q4k.name, "Q4_K");
        // One 576 × 256 matrix: 576 rows of one 144-byte block.
        assert_eq!(q4k.data_size(576 * 256), Some(576 * 144));
        assert_eq!(GgmlType::from_id(0).unwrap().data_size(10), Some(40));
        assert_eq!(GgmlType::from_id(4), None);
        assert_eq!(GgmlType::from_id(43), None);
        assert_eq!(GgmlType::from_id(1).unwrap().data_size(u64::MAX), None);
    }
}
