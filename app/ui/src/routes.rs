//! Every page and its address.

use dioxus::prelude::*;

use crate::search::Search;

use crate::views::{
    Checkout, CreateTicket, EditTicket, Landing, Login, NotFound, OrderDetail, Orders, Register, Sales, Shell,
    TicketDetail,
};

#[derive(Debug, Clone, PartialEq, Routable)]
#[rustfmt::skip]
pub enum Route {
    #[layout(Shell)]
        #[route("/?:..search")]
        Landing { search: Search },
        #[route("/tickets/new")]
        CreateTicket {},
        #[route("/tickets/:id")]
        TicketDetail { id: String },
        #[route("/tickets/:id/edit")]
        EditTicket { id: String },
        #[route("/orders")]
        Orders {},
        #[route("/sales")]
        Sales {},
        #[route("/orders/:id/checkout")]
        Checkout { id: String },
        #[route("/orders/:id")]
        OrderDetail { id: String },
        #[route("/register")]
        Register {},
        #[route("/login?:next")]
        Login { next: String },
        #[route("/:..segments")]
        NotFound { segments: Vec<String> },
}
