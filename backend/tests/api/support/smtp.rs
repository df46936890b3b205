//! A real SMTP server (aiosmtpd, from PyPI) storing what it receives in a maildir the test reads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

/// A received email, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Attached files: name, content type and content.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        // A port free now may be taken by another test's server before aiosmtpd binds it; then
        // aiosmtpd exits, and it is started again on another port.
        super::listening::on_a_free_port("aiosmtpd", Self::launch).await
    }

    pub async fn start_on(port: u16) -> Self {
        Self::launch(port).await.unwrap_or_else(|| panic!("aiosmtpd could not listen on port {port}"))
    }

    /// Starts aiosmtpd on `port` and waits until it greets there; `None` if it exits first (the port
    /// was taken).
    async fn launch(port: u16) -> Option<Self> {
        let python = std::env::var("TEST_TOOLS_PYTHON")
            .expect("TEST_TOOLS_PYTHON is not set: run the tests with `cargo xtask test`, which installs aiosmtpd");
        let maildir = std::env::temp_dir().join(format!("ticket-exchange-mail-{}", uuid::Uuid::new_v4().simple()));
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut server = Self { child, port, maildir };
        // Bounded wait for the process to listen; nothing else here waits. Only this aiosmtpd's
        // greeting counts: another server may hold the port (another test's aiosmtpd among them).
        for _ in 0..600 {
            if greets(port).await && super::listening::listens_on(server.child.id(), port) {
                return Some(server);
            }
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<_> = ["new", "cur"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(self.maildir.join(sub)).into_iter().flatten().flatten())
            .map(|entry| entry.path())
            .collect();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).expect("read mail");
                let message = mail_parser::MessageParser::default().parse(&raw).expect("parse mail");
                let address = |addr: Option<&mail_parser::Address>| {
                    addr.and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned()
                };
                Received {
                    to: address(message.to()),
                    from: address(message.from()),
                    subject: message.subject().unwrap_or_default().to_owned(),
                    text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                    html: message.body_html(0).map(|h| h.into_owned()).unwrap_or_default(),
                    attachments: message
                        .attachments()
                        .map(|part| {
                            use mail_parser::MimeHeaders;
                            let kind = part
                                .content_type()
                                .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default()))
                                .unwrap_or_default();
                            (part.attachment_name().unwrap_or_default().to_owned(), kind, part.contents().to_vec())
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// What `to` received, oldest first.
    pub fn received_by(&self, to: &str) -> Vec<Received> {
        self.received().into_iter().filter(|mail| mail.to == to).collect()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

/// Whether an SMTP server answers on `port` with its greeting (`220`), within a second.
async fn greets(port: u16) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut greeting = [0_u8; 4];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut greeting)).await,
        Ok(Ok(_)) if greeting.starts_with(b"220")
    )
}
