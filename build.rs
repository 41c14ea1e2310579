//! Compiles the small C shim for `long double` arithmetic (INCRBYFLOAT),
//! which Rust cannot express natively.

fn main() {
    println!("cargo:rerun-if-changed=src/util/long_double.c");
    cc::Build::new()
        .file("src/util/long_double.c")
        .warnings(true)
        .compile("fkv_long_double");
}
