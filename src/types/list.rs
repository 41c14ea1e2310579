//! The list value type.

/// A list value.
#[derive(Clone, Default)]
pub struct List {
    len: usize,
}

impl List {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing (an empty collection is deleted).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "unimplemented"
    }

    /// Approximate heap bytes used (for MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        0
    }
}
