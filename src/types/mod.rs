//! The collection value types, each with a compact encoding for small
//! sizes and a large one past the configured thresholds, as Redis does.

pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use stream::Stream;
pub use zset::ZSet;
