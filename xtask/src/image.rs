//! `cargo xtask image`: builds the production image (`deploy/Dockerfile`) with podman.
//!
//! The Dockerfile takes its two bases as build arguments: the official Rust image for the builder
//! stage and distroless cc for the runtime. Where those are not in podman's store (public registries
//! cannot be reached here), local stand-ins are made from Debian's packages with mmdebstrap:
//!
//! - builder: Debian bookworm with build-essential, pkg-config, git and CA certificates, plus this
//!   machine's Rust toolchain (the one running this command, with its wasm32 target) laid out as the
//!   official image lays it out (`RUSTUP_HOME=/usr/local/rustup`, `CARGO_HOME=/usr/local/cargo`).
//!   This machine's own extra CA certificates are trusted too, as the package registries are reached
//!   through them.
//! - runtime: glibc, libgcc and CA certificates extracted from Debian's packages, a `nonroot` user
//!   65532, no shell, no package manager: what distroless cc holds, less its time zone database.
//!
//! The image is then built exactly as production builds it, differing only in those base layers.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::system::{ensure_debian_packages, run};

/// The official bases production builds on.
const PUBLIC_BUILDER: &str = "docker.io/library/rust:1.95-bookworm";
const PUBLIC_RUNTIME: &str = "gcr.io/distroless/cc-debian12:nonroot";
/// The runtime stand-in made here when the public one is missing. (The builder stand-in's name
/// carries the version of the toolchain it holds: [`local_builder`].) Both names end in the version
/// of their recipe below: change it with the recipe, so machines that have the old stand-in make
/// the new one.
const LOCAL_RUNTIME: &str = "localhost/ticket-exchange-runtime-base:bookworm-3";
const RECIPE: u32 = 1;

/// podman with the settings this kind of machine needs (no systemd cgroups, runc, bounded limits).
pub fn podman() -> Command {
    let mut command = Command::new("podman");
    command.arg("--cgroup-manager=cgroupfs");
    command
}

/// The flags every container run here takes.
pub const RUN_FLAGS: &[&str] =
    &["--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1024:1024", "--network=host"];

/// The image's name: `localhost/ticket-exchange:<the server's version>`.
pub fn name(root: &Path) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("backend/Cargo.toml")).context("reading backend/Cargo.toml")?;
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = \"").and_then(|rest| rest.strip_suffix('"')))
        .context("no version in backend/Cargo.toml")?;
    Ok(format!("localhost/ticket-exchange:{version}"))
}

fn exists(image: &str) -> bool {
    podman().args(["image", "exists", image]).status().is_ok_and(|status| status.success())
}

/// The public base when podman has it, else the local stand-in, made first if need be.
fn base(public: &str, local: &str, make: fn(&str) -> Result<()>) -> Result<String> {
    if exists(public) {
        return Ok(public.to_owned());
    }
    if !exists(local) {
        make(local)?;
    }
    Ok(local.to_owned())
}

/// This machine's toolchain: its directory, its rustup name, and `rustc`'s version.
fn toolchain() -> Result<(PathBuf, String, String)> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let name = sysroot.file_name().and_then(|name| name.to_str()).context("toolchain name")?.to_owned();
    let version = Command::new("rustc").arg("--version").output().context("running rustc")?;
    let version = String::from_utf8_lossy(&version.stdout).split_whitespace().nth(1).unwrap_or_default().to_owned();
    // Both go into the stand-in's shell hooks and its tag: only plain names.
    let plain = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if !plain(&name) || !plain(&version) || sysroot.to_str().is_none_or(|path| path.contains(char::is_whitespace)) {
        bail!("unexpected toolchain {name} {version} at {}", sysroot.display());
    }
    Ok((sysroot, name, version))
}

/// The builder stand-in's name, by the toolchain it holds.
fn local_builder() -> Result<String> {
    Ok(format!("localhost/ticket-exchange-builder-base:rust-{}-bookworm-{RECIPE}", toolchain()?.2))
}

/// Builds the image, making the base stand-ins first if needed; prints its size. Returns its name.
pub fn build(root: &Path) -> Result<String> {
    // mmdebstrap's recommended helpers too: packages are installed without recommends here.
    ensure_debian_packages(&["podman", "runc", "mmdebstrap", "uidmap", "libdpkg-perl", "gpg", "mount", "arch-test"])?;
    let builder = base(PUBLIC_BUILDER, &local_builder()?, builder_stand_in)?;
    let runtime = base(PUBLIC_RUNTIME, LOCAL_RUNTIME, runtime_stand_in)?;
    let image = name(root)?;
    let started = std::time::Instant::now();
    run(podman()
        .arg("build")
        .args(&RUN_FLAGS[..6])
        .args(["--network", "host", "--pull=never", "--layers"])
        .args(["--build-arg", &format!("BUILDER_IMAGE={builder}")])
        .args(["--build-arg", &format!("RUNTIME_IMAGE={runtime}")])
        // The registry mirror reached here lacks a release wasm-bindgen-cli's own lock file pins.
        .args(["--build-arg", "CARGO_INSTALL_LOCKED="])
        .args(["-f", "deploy/Dockerfile", "--ignorefile", "deploy/Dockerfile.dockerignore", "-t", &image, "."])
        .current_dir(root))?;
    let size = podman().args(["image", "inspect", "--format", "{{.Size}}", &image]).output()?;
    let bytes: u64 = String::from_utf8_lossy(&size.stdout).trim().parse().unwrap_or(0);
    #[allow(clippy::cast_precision_loss, reason = "a size in MB for people")]
    let megabytes = bytes as f64 / 1_000_000.0;
    println!(
        "image: {image} ({megabytes:.1} MB; bases {builder} and {runtime}; built in {} s)",
        started.elapsed().as_secs()
    );
    Ok(image)
}

/// Runs mmdebstrap into a tarball in a scratch directory and imports it as `image`.
fn debootstrap(image: &str, args: &[String], changes: &[&str]) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("ticket-exchange-base-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let tarball = scratch.join("base.tar");
    println!("image: making the stand-in {image} from Debian's packages (mmdebstrap)");
    let made = run(Command::new("mmdebstrap").args(args).arg("bookworm").arg(&tarball));
    let imported = made.and_then(|()| {
        let mut import = podman();
        import.arg("import");
        for change in changes {
            import.args(["--change", change]);
        }
        run(import.arg(&tarball).arg(image))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    imported
}

fn builder_stand_in(image: &str) -> Result<()> {
    let (sysroot, toolchain, _) = toolchain()?;
    if !sysroot.join("lib/rustlib/wasm32-unknown-unknown").exists() {
        crate::system::ensure_rust_target("wasm32-unknown-unknown")?;
    }
    let rustup = which("rustup")?;
    let extra_cas: Vec<PathBuf> = std::fs::read_dir("/usr/local/share/ca-certificates")
        .map(|entries| entries.flatten().map(|entry| entry.path()).filter(|path| path.is_file()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|path: &PathBuf| path.to_str().is_some_and(|text| !text.contains(char::is_whitespace)))
        .collect();
    let mut hooks = vec![
        r#"mkdir -p "$1/usr/local/rustup/toolchains" "$1/usr/local/cargo/bin" "$1/usr/local/share/ca-certificates/host""#
            .to_owned(),
        format!("copy-in {} /usr/local/rustup/toolchains", sysroot.display()),
        format!(r#"rm -rf "$1/usr/local/rustup/toolchains/{toolchain}/share/doc""#),
        format!("copy-in {} /usr/local/cargo/bin", rustup.display()),
        r#"for tool in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do ln -s rustup "$1/usr/local/cargo/bin/$tool"; done"#
            .to_owned(),
        format!(
            r#"printf 'version = "12"\ndefault_toolchain = "{toolchain}"\nprofile = "minimal"\nauto_self_update = "disable"\n' > "$1/usr/local/rustup/settings.toml""#
        ),
    ];
    if !extra_cas.is_empty() {
        let files: Vec<String> = extra_cas.iter().map(|path| path.display().to_string()).collect();
        hooks.push(format!("copy-in {} /usr/local/share/ca-certificates/host", files.join(" ")));
        hooks.push(r#"chroot "$1" update-ca-certificates"#.to_owned());
    }
    let mut args =
        vec!["--variant=apt".to_owned(), "--include=build-essential,pkg-config,ca-certificates,git".to_owned()];
    args.extend(hooks.into_iter().map(|hook| format!("--customize-hook={hook}")));
    debootstrap(
        image,
        &args,
        &[
            "ENV RUSTUP_HOME=/usr/local/rustup",
            "ENV CARGO_HOME=/usr/local/cargo",
            "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ],
    )
}

/// The runtime base: what Debian's packages for glibc, libgcc, netbase and CA
/// certificates hold, unpacked without running any of their scripts (there is no shell to run them
/// with), then finished here: Debian's CA bundle, the `nonroot` user, `/tmp`, and nothing the server
/// does not use (charset converters, OpenSSL, debconf, documentation; no time zone database either,
/// which distroless has: the server keeps and logs every time in UTC).
fn runtime_stand_in(image: &str) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("ticket-exchange-runtime-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let root = scratch.join("root");
    std::fs::create_dir_all(&root)?;
    let extracted = scratch.join("extracted.tar");
    println!("image: making the stand-in {image} from Debian's packages (mmdebstrap)");
    let made = run(Command::new("mmdebstrap")
        .args(["--variant=extract", "--include=libc6,libgcc-s1,netbase,ca-certificates", "bookworm"])
        .arg(&extracted))
    .and_then(|()| run(Command::new("tar").arg("-C").arg(&root).arg("-xf").arg(&extracted)))
    .and_then(|()| finish_runtime(&root))
    .and_then(|()| {
        let finished = scratch.join("runtime.tar");
        run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&finished).arg("."))?;
        run(podman().args(["import", "--change", "USER 65532:65532"]).arg(&finished).arg(image))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    made
}

fn finish_runtime(root: &Path) -> Result<()> {
    let mut bundle = String::new();
    let mozilla = root.join("usr/share/ca-certificates/mozilla");
    let mut certificates: Vec<PathBuf> =
        std::fs::read_dir(&mozilla).context("Debian's CA certificates")?.flatten().map(|entry| entry.path()).collect();
    certificates.sort();
    for certificate in &certificates {
        bundle.push_str(&std::fs::read_to_string(certificate)?);
    }
    std::fs::create_dir_all(root.join("etc/ssl/certs"))?;
    std::fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), bundle)?;
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n")?;
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::create_dir_all(root.join("home/nonroot"))?;
    run(Command::new("chmod").arg("1777").arg(root.join("tmp")))?;
    run(Command::new("chown").arg("65532:65532").arg(root.join("home/nonroot")))?;
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    let mut unused = vec![
        lib.join("gconv"),
        lib.join("engines-3"),
        lib.join("ossl-modules"),
        root.join("usr/lib/ssl"),
        root.join("usr/share/doc"),
        root.join("usr/share/man"),
        root.join("usr/share/lintian"),
        root.join("usr/share/perl5"),
        root.join("usr/share/locale"),
        root.join("usr/share/ca-certificates"),
        root.join("usr/sbin"),
        root.join("usr/bin"),
        root.join("var/lib/dpkg"),
    ];
    for entry in std::fs::read_dir(&lib)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("libssl") || name.starts_with("libcrypto") {
            unused.push(entry.path());
        }
    }
    for path in unused {
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn which(program: &str) -> Result<PathBuf> {
    let found = Command::new("sh").args(["-c", &format!("command -v {program}")]).output()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    if path.is_empty() {
        bail!("{program} is not on PATH");
    }
    Ok(PathBuf::from(path))
}
