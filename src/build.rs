// `sqlx::migrate!` embeds the migrations at compile time but cannot tell cargo to watch the
// folder: without this, a new migration file alone would not rebuild the binary (sqlx's
// documented workaround).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
