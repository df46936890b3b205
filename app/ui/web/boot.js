// Loads the UI's WebAssembly. A file of its own (not an inline script), so the server's
// Content-Security-Policy can forbid inline scripts.
import init from "/ticket_exchange_ui.js";

init({ module_or_path: "/ticket_exchange_ui_bg.wasm" });
