//! Pieces of pages. Each takes props only.

mod field;
mod header;
mod order_card;
mod ticket_card;
mod ticket_download;

pub use field::{Field, FormError};
pub use header::Header;
pub use order_card::{OrderCard, status_class, status_label};
pub use ticket_card::{TicketCard, place};
pub use ticket_download::TicketDownload;
