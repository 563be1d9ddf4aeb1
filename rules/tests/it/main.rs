//! Integration tests of the rules crate.

mod cases;
mod property;
mod reference;
mod transforms;
