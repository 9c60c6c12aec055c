//! One integration test binary (see STYLE 5): each module is a topic.

mod agree;
mod matcher;
