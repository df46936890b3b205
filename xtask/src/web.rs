//! `cargo xtask web`: builds the Dioxus UI for browsers: `cargo build` for wasm32 (the `web` profile:
//! size-optimised, LTO, abort on panic), then `wasm-bindgen --target web` and `wasm-opt -Oz`
//! (binaryen from npm, pinned in `xtask/web-tools`), plus `index.html`, `style.css` and `boot.js`, each
//! text and wasm file also gzipped beside itself (`<name>.gz`, by zopfli). The result goes to
//! `<target dir>/web-ui`, which the server serves with `WEB_DIR`, and which Tauri bundles (without
//! the `.gz` files: Tauri compresses what it embeds itself).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::python::tools_dir;
use crate::run::target_dir;
use crate::system::{ensure_commands, ensure_rust_target, run};

const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// wasm-bindgen's CLI at exactly the library's version, installed once into the tools directory.
fn wasm_bindgen() -> Result<PathBuf> {
    let root = tools_dir();
    let bin = root.join("bin/wasm-bindgen");
    let current =
        Command::new(&bin).arg("--version").output().ok().map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    if current.is_some_and(|version| version.contains(WASM_BINDGEN_VERSION)) {
        return Ok(bin);
    }
    eprintln!("installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} into {} (a few minutes, once)", root.display());
    run(Command::new(env!("CARGO"))
        .args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION, "--root"])
        .arg(&root))?;
    Ok(bin)
}

/// The npm packages `xtask/web-tools` pins (binaryen's wasm-opt, esbuild), installed once into the
/// tools directory; returns its `node_modules/.bin`.
fn web_tools(root: &Path) -> Result<PathBuf> {
    ensure_commands(&[("node", "nodejs"), ("npm", "npm")])?;
    let tools = tools_dir().join("web-tools");
    std::fs::create_dir_all(&tools)?;
    let mut changed = false;
    for file in ["package.json", "package-lock.json"] {
        let wanted =
            std::fs::read(root.join("xtask/web-tools").join(file)).with_context(|| format!("reading {file}"))?;
        if std::fs::read(tools.join(file)).ok().as_deref() != Some(wanted.as_slice()) {
            std::fs::write(tools.join(file), wanted)?;
            changed = true;
        }
    }
    let bin = tools.join("node_modules/.bin");
    if changed || !bin.join("wasm-opt").exists() || !bin.join("esbuild").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&tools))?;
    }
    Ok(bin)
}

/// The WebAssembly features rustc's wasm32-unknown-unknown target emits by default; wasm-opt must be
/// told, as the module does not say.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// What the whole web bundle may weigh, gzipped.
const BUNDLE_LIMIT_KIB: u64 = 400;

/// Every file under `dir`, in a stable order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).with_context(|| format!("reading {}", next.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Files the server sends gzipped to browsers that accept it (`<name>.gz` beside each).
const COMPRESSED: &[&str] = &["wasm", "js", "css", "html"];

/// Writes `<path>.gz`: zopfli's gzip, some 5% smaller than `gzip -9` and read by every browser
/// alike; the server sends it as it is. Split into up to 100 blocks rather than zopfli's 15, each
/// with codes of its own: 2.1 KiB off the module (more gains nothing; unlimited, zopfli's own
/// warning holds and the module grows by 7 KiB). Returns its size.
fn precompress(path: &Path) -> Result<u64> {
    let plain = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut packed = Vec::new();
    let options = zopfli::Options { maximum_block_splits: 100, ..zopfli::Options::default() };
    zopfli::compress(options, zopfli::Format::Gzip, plain.as_slice(), &mut packed)
        .with_context(|| format!("compressing {}", path.display()))?;
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    std::fs::write(&name, &packed)?;
    Ok(packed.len() as u64)
}

/// The web UI's manifest: a workspace of its own, with its own Cargo.lock.
pub fn ui_manifest(root: &Path) -> PathBuf {
    root.join("app/ui/Cargo.toml")
}

/// Cargo's `subcommand` (one that builds) on the web UI's workspace, into the main workspace's target
/// directory, where the rest of `xtask` looks for what it built.
pub fn ui_cargo(root: &Path, subcommand: &str) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command.arg(subcommand).arg("--manifest-path").arg(ui_manifest(root)).arg("--target-dir").arg(target_dir(root));
    command
}

/// Builds the web UI; returns the directory to serve.
pub fn build(root: &Path) -> Result<PathBuf> {
    ensure_rust_target("wasm32-unknown-unknown")?;
    let bindgen = wasm_bindgen()?;
    let tools = web_tools(root)?;
    run(ui_cargo(root, "build").args([
        "--bin",
        "ticket-exchange-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "web",
    ]))?;
    let target = target_dir(root);
    let wasm = target.join("wasm32-unknown-unknown/web/ticket-exchange-ui.wasm");
    // Not `<target>/web`: that is cargo's own directory for the `web` profile.
    let dist = target.join("web-ui");
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist)?;
    run(Command::new(bindgen)
        .args(["--target", "web", "--no-typescript", "--out-name", "ticket_exchange_ui", "--out-dir"])
        .arg(&dist)
        .arg(&wasm))?;
    let module = dist.join("ticket_exchange_ui_bg.wasm");
    // Rust places the stack first (its pointer starts at 1 MiB and grows down, data lies above), so
    // the low 1 KiB of memory is the deepest end of the stack: telling wasm-opt it is unused lets it
    // fold small constants into addresses (an address that would have wrapped into low memory
    // traps instead). 1.5 KiB off the gzipped module.
    run(Command::new(tools.join("wasm-opt"))
        .args(["-Oz", "--low-memory-unused"])
        .args(WASM_FEATURES)
        .arg(&module)
        .arg("-o")
        .arg(&module))?;
    for file in ["index.html", "style.css", "boot.js"] {
        std::fs::copy(root.join("app/ui/web").join(file), dist.join(file))
            .with_context(|| format!("copying {file}"))?;
    }
    // wasm-bindgen's glue and the snippets it copies, and the style sheet, are written to be read:
    // minified (the scripts as modules still, their imports, exports and `import.meta.url` kept),
    // they weigh a fifth less gzipped.
    let minified = |path: &PathBuf| path.extension().is_some_and(|ext| ext == "js" || ext == "css");
    run(Command::new(tools.join("esbuild"))
        .args(files_under(&dist)?.into_iter().filter(minified))
        .args(["--minify", "--format=esm", "--log-level=warning", "--allow-overwrite"])
        .arg(format!("--outbase={}", dist.display()))
        .arg(format!("--outdir={}", dist.display())))?;
    // Everything a browser fetches (the module, wasm-bindgen's glue and snippets, the page), as it
    // is sent: gzipped where that is written beside it.
    let mut total_sent = 0;
    for path in files_under(&dist)? {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let compressed = path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| COMPRESSED.contains(&ext));
        let name = path.strip_prefix(&dist).unwrap_or(&path).display().to_string();
        if compressed {
            let gz = precompress(&path)?;
            total_sent += gz;
            println!("web: {name:<60} {:>8.1} KiB  ({:.1} KiB gzipped)", size as f64 / 1024.0, gz as f64 / 1024.0);
        } else {
            total_sent += size;
            println!("web: {name:<60} {:>8.1} KiB", size as f64 / 1024.0);
        }
    }
    println!(
        "web: total {:.1} KiB as sent, gzipped (limit {} KiB), in {}",
        total_sent as f64 / 1024.0,
        BUNDLE_LIMIT_KIB,
        dist.display()
    );
    if !dist.join("ticket_exchange_ui_bg.wasm").exists() {
        bail!("wasm-bindgen produced no wasm");
    }
    Ok(dist)
}
