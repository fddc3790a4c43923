//! Placeholder until the decoder lands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame { pub event: Option<String>, pub data: String, pub id: Option<String>, pub retry: Option<u64> }
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind<'a> { Ping, NoEventName, Error(&'a str), EmptyData, Event { name: &'a str, data: &'a str } }
impl SseFrame { pub fn kind(&self) -> FrameKind<'_> { FrameKind::Ping } }
#[derive(Debug, Default)]
pub struct SseDecoder {}
impl SseDecoder { pub fn new() -> Self { Self{} } pub fn feed(&mut self, _c: &[u8]) {} pub fn next_frame(&mut self) -> Option<SseFrame> { None } pub fn finish(&mut self) -> Option<SseFrame> { None } }
