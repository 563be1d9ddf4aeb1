//! Record framing: how one event sits in a segment file.
//!
//! ```text
//! offset  size  field
//! 0       4     len        u32 LE, bytes of header + body (excludes these 8 prefix bytes)
//! 4       4     crc        u32 LE, crc32c (Castagnoli) over header + body
//! 8       8     sequence   u64 LE, the event's position in its bus (dense, from 1)
//! 16      8     timestamp  i64 LE, ingestion time, microseconds since the Unix epoch
//! 24      len-16 body      the event in structured JSON (application/cloudevents+json)
//! ```
//!
//! A zero `len` marks the end of the written area: segments are preallocated with zeros, so the
//! first zero word after the last record is where the next append goes. The checksum covers the
//! header so a record can never be read under the wrong sequence.

/// Bytes before the body: len, crc, sequence, timestamp.
pub const FRAME_OVERHEAD: usize = 24;
/// Bytes of the header covered by the checksum (sequence + timestamp).
pub const HEADER_LEN: usize = 16;
/// No record body may exceed this; also bounds what recovery accepts as a plausible length.
pub const MAX_BODY: usize = 64 << 20;

/// The fixed part of a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The record's sequence.
    pub sequence: u64,
    /// Ingestion time in microseconds since the epoch.
    pub timestamp: i64,
    /// Length of the body in bytes.
    pub body_len: usize,
}

impl FrameHeader {
    /// Total bytes the frame occupies in the segment.
    pub fn frame_len(&self) -> usize {
        FRAME_OVERHEAD + self.body_len
    }
}

/// Why the bytes at an offset are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameFault {
    /// The length word is zero: the end of the written area (not damage by itself).
    End,
    /// Fewer bytes remain than the frame needs.
    Short,
    /// The length word is below the header size or above [`MAX_BODY`].
    BadLength(u32),
    /// The checksum does not match the bytes.
    BadChecksum { stored: u32, computed: u32 },
}

impl std::fmt::Display for FrameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameFault::End => write!(f, "end of written data"),
            FrameFault::Short => write!(f, "record runs past the end of the file"),
            FrameFault::BadLength(n) => write!(f, "implausible record length {n}"),
            FrameFault::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
        }
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Checks and decodes the frame at the start of `buf`. `buf` extends to the end of the file.
pub fn decode(buf: &[u8]) -> Result<FrameHeader, FrameFault> {
    if buf.len() < 8 {
        return if buf.iter().all(|&b| b == 0) {
            Err(FrameFault::End)
        } else {
            Err(FrameFault::Short)
        };
    }
    let len = u32_at(buf, 0);
    if len == 0 {
        return Err(FrameFault::End);
    }
    if (len as usize) < HEADER_LEN || len as usize > HEADER_LEN + MAX_BODY {
        return Err(FrameFault::BadLength(len));
    }
    let total = 8 + len as usize;
    if buf.len() < total {
        return Err(FrameFault::Short);
    }
    let stored = u32_at(buf, 4);
    let computed = crc32c::crc32c(&buf[8..total]);
    if stored != computed {
        return Err(FrameFault::BadChecksum { stored, computed });
    }
    Ok(FrameHeader {
        sequence: u64_at(buf, 8),
        timestamp: u64_at(buf, 16) as i64,
        body_len: len as usize - HEADER_LEN,
    })
}

/// Writes a complete frame for `body` into `out` (which must be exactly `FRAME_OVERHEAD + body.len()`
/// bytes). The length word is written last-but-not-least in program order; durability comes from the
/// flush that follows, never from write order.
pub fn encode_into(out: &mut [u8], sequence: u64, timestamp: i64, body: &[u8]) {
    debug_assert_eq!(out.len(), FRAME_OVERHEAD + body.len());
    let len = (HEADER_LEN + body.len()) as u32;
    out[8..16].copy_from_slice(&sequence.to_le_bytes());
    out[16..24].copy_from_slice(&timestamp.to_le_bytes());
    out[24..].copy_from_slice(body);
    let crc = crc32c::crc32c(&out[8..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out[0..4].copy_from_slice(&len.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, ts: i64, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; FRAME_OVERHEAD + body.len()];
        encode_into(&mut v, seq, ts, body);
        v
    }

    #[test]
    fn round_trip() {
        let f = frame(7, -3, b"{\"a\":1}");
        let h = decode(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            h,
            FrameHeader {
                sequence: 7,
                timestamp: -3,
                body_len: 7
            }
        );
        assert_eq!(h.frame_len(), f.len());
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let f = frame(42, 1_700_000_000_000_000, b"hello world");
        for i in 0..f.len() {
            let mut g = f.clone();
            g[i] ^= 0x40;
            assert!(
                decode(&g).is_err() || decode(&g) != decode(&f),
                "flip at {i} undetected"
            );
        }
    }

    #[test]
    fn zeros_are_the_end_and_truncation_is_short() {
        assert_eq!(decode(&[0u8; 64]), Err(FrameFault::End));
        assert_eq!(decode(&[0u8; 3]), Err(FrameFault::End));
        let f = frame(1, 1, b"abc");
        assert_eq!(decode(&f[..f.len() - 1]), Err(FrameFault::Short));
        assert_eq!(decode(&f[..5]), Err(FrameFault::Short));
    }
}
