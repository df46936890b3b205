//! The web entry point: `cargo build --target wasm32-unknown-unknown` (see `cargo xtask web`).

#[cfg(target_arch = "wasm32")]
fn main() {
    // A panic shows in the browser console instead of vanishing.
    std::panic::set_hook(Box::new(console_error_panic_hook::hook));
    dioxus::launch(ticket_exchange_ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the UI runs in a browser or a webview: build it with `cargo xtask web`");
}
