//! One integration test binary (see STYLE 5): each module is a topic.

mod agree;
mod cmd;
mod code;
mod formats;
mod input;
mod matcher;
mod outputs;
mod tokenizer;
mod util;
mod xlsx;
