//! One integration test binary (see STYLE 5): each module is a topic.

mod cmd;
mod code;
mod input;
mod matcher;
mod tokenizer;
mod util;
