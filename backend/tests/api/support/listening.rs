//! Whether a process is the one listening on a TCP port, from Linux's `/proc`. A test server started
//! on a port that was free a moment before may find it taken by another test's server, which then
//! answers in its place: only the listening socket's owner tells them apart.

use std::collections::HashSet;

/// The inodes of the sockets listening on `port` (IPv4 or IPv6, any address).
fn listening_sockets(port: u16) -> HashSet<String> {
    let wanted = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit(':').next()?;
                    // State 0A is LISTEN; the tenth field is the socket's inode.
                    (local_port == wanted && *fields.get(3)? == "0A")
                        .then(|| fields.get(9).map(|inode| (*inode).to_owned()))?
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether process `pid` holds a socket listening on `port`.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let sockets = listening_sockets(port);
    if sockets.is_empty() {
        return false;
    }
    let Ok(descriptors) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    descriptors.flatten().any(|descriptor| {
        std::fs::read_link(descriptor.path()).is_ok_and(|target| {
            target
                .to_str()
                .and_then(|target| target.strip_prefix("socket:[")?.strip_suffix(']'))
                .is_some_and(|inode| sockets.contains(inode))
        })
    })
}

/// Starts a server with `launch` on a port free a moment before, and again on another while
/// `launch` finds it taken (answers `None`); `what` names the server in the panic after five tries.
pub async fn on_a_free_port<T, Launch>(what: &str, launch: impl Fn(u16) -> Launch) -> T
where
    Launch: std::future::Future<Output = Option<T>>,
{
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        if let Some(server) = launch(port).await {
            return server;
        }
    }
    panic!("{what} found no free port in five tries");
}

#[test]
fn a_process_is_seen_listening_on_its_own_port_and_not_on_another() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert!(listens_on(std::process::id(), port));
    drop(listener);
    assert!(!listens_on(std::process::id(), port));
}
