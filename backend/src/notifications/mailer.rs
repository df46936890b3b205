//! Where email goes: an SMTP server (any relay, e.g. Resend's, over `smtp://` or `smtps://`), or, with
//! no SMTP configured, `.eml` files in a directory.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail configuration: {0}")]
    Config(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("writing the email file failed: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("the email could not be built: {0}")]
    Build(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files { transport: AsyncFileTransport<Tokio1Executor>, dir: PathBuf },
}

/// Sends built messages.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let from: Mailbox =
            settings.from.parse().map_err(|err| MailError::Config(format!("MAIL_FROM `{}`: {err}", settings.from)))?;
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|err| MailError::Config(format!("SMTP_URL: {err}")))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&settings.mail_dir)
                    .map_err(|err| MailError::Config(format!("MAIL_DIR {}: {err}", settings.mail_dir.display())))?;
                Transport::Files {
                    transport: AsyncFileTransport::new(&settings.mail_dir),
                    dir: settings.mail_dir.clone(),
                }
            }
        };
        Ok(Self { transport, from })
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends `message`; where it was written, for the file transport.
    pub async fn send(&self, message: Message) -> Result<Option<PathBuf>, MailError> {
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
                Ok(None)
            }
            Transport::Files { transport, dir } => {
                let id = transport.send(message).await?;
                Ok(Some(dir.join(format!("{id}.eml"))))
            }
        }
    }
}
