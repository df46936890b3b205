use dioxus::prelude::*;

/// A labelled input with its error beneath it.
#[component]
pub fn Field(
    label: String,
    name: String,
    value: String,
    #[props(default = "text".to_string())] kind: String,
    #[props(default)] error: Option<String>,
    #[props(default)] readonly: bool,
    #[props(default)] placeholder: String,
    oninput: EventHandler<String>,
    #[props(default)] onblur: Option<EventHandler<()>>,
) -> Element {
    let id = format!("field-{name}");
    let class = if error.is_some() { "invalid" } else { "" };
    rsx! {
        div { class: "field",
            label { r#for: "{id}", "{label}" }
            input {
                id: "{id}",
                name: "{name}",
                r#type: "{kind}",
                value: "{value}",
                readonly,
                placeholder: "{placeholder}",
                class: "{class}",
                oninput: move |event| oninput.call(event.value()),
                onblur: move |_| {
                    if let Some(onblur) = onblur {
                        onblur.call(());
                    }
                },
            }
            if let Some(error) = error {
                p { class: "field-error", "data-field": "{name}", "{error}" }
            }
        }
    }
}

/// An error about the whole form.
#[component]
pub fn FormError(message: Option<String>) -> Element {
    rsx! {
        if let Some(message) = message {
            p { class: "form-error", role: "alert", "{message}" }
        }
    }
}
