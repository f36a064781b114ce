#![doc = include_str!("../README.md")]

mod app;

pub use app::{NewOrder, Order, app};
