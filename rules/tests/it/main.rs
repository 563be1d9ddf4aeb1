//! Integration tests of the rules crate.

mod cases;
mod cesql_props;
mod cesql_tck;
mod property;
mod reference;
mod sql;
mod transforms;
