//! What a ticket file is, judged by its content (not its name, not the header it was sent with), and
//! whether it is whole.

use crate::validation::FieldError;

/// The kinds of ticket file the market takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
}

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Png => "png",
            Self::Jpeg => "jpg",
        }
    }

    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type {
            "application/pdf" => Some(Self::Pdf),
            "image/png" => Some(Self::Png),
            "image/jpeg" => Some(Self::Jpeg),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Png => "PNG image",
            Self::Jpeg => "JPEG image",
        }
    }

    /// Whether the file runs to its format's end marker: a file cut short in transfer is refused
    /// rather than handed to a buyer.
    fn is_whole(self, bytes: &[u8]) -> bool {
        match self {
            // `%%EOF` closes a PDF; writers may follow it with a line break or a little padding.
            Self::Pdf => bytes[bytes.len().saturating_sub(1024)..].windows(5).any(|window| window == b"%%EOF"),
            // The IEND chunk (length 0, type, CRC) is a PNG's last 12 bytes.
            Self::Png => bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]),
            // End of image, perhaps followed by zero padding.
            Self::Jpeg => {
                let end = bytes.iter().rposition(|byte| *byte != 0).map_or(0, |last| last + 1);
                bytes[..end].ends_with(&[0xFF, 0xD9])
            }
        }
    }
}

fn refused(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new("file", code, message)
}

/// The kind of `bytes`, if it is a whole PDF, PNG or JPEG file. `declared` is the request's
/// `Content-Type`: absent or `application/octet-stream` says nothing; any other type must be what the
/// content is.
pub fn identify(bytes: &[u8], declared: Option<&str>) -> Result<FileKind, FieldError> {
    if bytes.is_empty() {
        return Err(refused("empty_file", "The ticket file is empty."));
    }
    let detected = infer::get(bytes);
    let kind = detected.as_ref().and_then(|found| FileKind::from_content_type(found.mime_type())).ok_or_else(|| {
        let what = detected.as_ref().map_or("not a kind of file we know".to_owned(), |found| {
            format!("a {} file ({})", found.extension().to_ascii_uppercase(), found.mime_type())
        });
        refused("unsupported_file_type", format!("The ticket must be a PDF, PNG or JPEG file; this is {what}."))
    })?;
    let declared = declared
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|value| !value.is_empty() && value != "application/octet-stream");
    if let Some(declared) = declared
        && declared != kind.content_type()
    {
        return Err(refused(
            "content_type_mismatch",
            format!("The file was sent as {declared}, but its content is a {}.", kind.name()),
        ));
    }
    if !kind.is_whole(bytes) {
        return Err(refused(
            "incomplete_file",
            format!("This {} is damaged or cut short: it does not run to its end.", kind.name()),
        ));
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8,
        2, 0, 0, 0, 0x90, 0x77, 0x53, 0xDE, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82,
    ];
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 0xFF, 0xD9];

    fn code(bytes: &[u8], declared: Option<&str>) -> Option<&'static str> {
        identify(bytes, declared).err().map(|err| err.code)
    }

    #[test]
    fn pdf_png_and_jpeg_are_known_by_their_content() {
        assert_eq!(identify(PDF, None), Ok(FileKind::Pdf));
        assert_eq!(identify(PNG, Some("application/octet-stream")), Ok(FileKind::Png));
        assert_eq!(identify(JPEG, Some("image/jpeg; charset=binary")), Ok(FileKind::Jpeg));
    }

    #[test]
    fn anything_else_is_refused_by_reason() {
        assert_eq!(code(b"", None), Some("empty_file"));
        assert_eq!(code(b"PK\x03\x04zip", None), Some("unsupported_file_type"));
        assert_eq!(code(b"plain words", None), Some("unsupported_file_type"));
        assert_eq!(code(PDF, Some("image/png")), Some("content_type_mismatch"));
        assert_eq!(code(PNG, Some("text/plain")), Some("content_type_mismatch"));
        assert_eq!(code(&PDF[..PDF.len() - 8], None), Some("incomplete_file"));
        assert_eq!(code(&PNG[..PNG.len() - 1], None), Some("incomplete_file"));
        assert_eq!(code(&JPEG[..JPEG.len() - 2], None), Some("incomplete_file"));
    }
}
