//! Finding the end of a JSON object or array without reading its contents, 64 bytes at a time.
//!
//! The approach of simdjson's stage 1, in safe Rust over `wide`'s 16-byte vectors: for a block
//! of 64 bytes, compare every byte at once into bitmasks of quotes, backslashes, opening and
//! closing brackets; a prefix XOR of the quote mask marks the bytes inside strings, which masks
//! out brackets in strings; the remaining brackets are counted by popcount, and walked one by one
//! only in a block with as many closing brackets as the depth (one that may end the container,
//! always the first). Blocks holding a
//! backslash (rare in events) are walked byte by byte, which keeps escape handling simple.
//! Brackets are counted without telling `{` from `[`: in valid JSON they nest properly, so the
//! count reaches zero exactly at the container's end.

use wide::u8x16;

/// Bitmasks of one block: bit `i` is byte `i`.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

#[inline]
fn masks(block: &[u8; 64]) -> Masks {
    let quote = u8x16::splat(b'"');
    let backslash = u8x16::splat(b'\\');
    let case = u8x16::splat(0x20);
    // `[` and `{` differ only in bit 0x20, as do `]` and `}`.
    let open = u8x16::splat(b'{');
    let close = u8x16::splat(b'}');
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(chunk);
        let v = u8x16::new(bytes);
        let folded = v | case;
        let shift = 16 * k;
        m.quote |= u64::from(v.cmp_eq(quote).move_mask() as u16) << shift;
        m.backslash |= u64::from(v.cmp_eq(backslash).move_mask() as u16) << shift;
        m.open |= u64::from(folded.cmp_eq(open).move_mask() as u16) << shift;
        m.close |= u64::from(folded.cmp_eq(close).move_mask() as u16) << shift;
    }
    m
}

/// Bit `i` of the result is the parity of the set bits `0..=i` of `m`.
#[inline]
fn prefix_xor(mut m: u64) -> u64 {
    m ^= m << 1;
    m ^= m << 2;
    m ^= m << 4;
    m ^= m << 8;
    m ^= m << 16;
    m ^= m << 32;
    m
}

/// The scanning state carried from block to block.
struct State {
    depth: u64,
    in_string: bool,
    escape: bool,
}

/// Given `b[start]` is `{` or `[`, the index just after the matching closing bracket; `None` if
/// the input ends first.
pub(crate) fn container_end(b: &[u8], start: usize) -> Option<usize> {
    let mut st = State {
        depth: 0,
        in_string: false,
        escape: false,
    };
    let mut pos = start;
    let mut tail = [b' '; 64];
    while pos < b.len() {
        let block: &[u8; 64] = match b.get(pos..pos + 64) {
            Some(s) => s.try_into().ok()?,
            None => {
                let n = b.len() - pos;
                tail[..n].copy_from_slice(&b[pos..]);
                &tail
            }
        };
        let m = masks(block);
        if m.backslash != 0 || st.escape {
            if let Some(end) = scalar(block, &mut st) {
                return Some(pos + end);
            }
        } else {
            let mut inside = prefix_xor(m.quote);
            if st.in_string {
                inside = !inside;
            }
            let (open, close) = (m.open & !inside, m.close & !inside);
            let closes = u64::from(close.count_ones());
            if closes < st.depth {
                // Too few closing brackets here to reach depth zero: count, do not walk.
                st.depth = st.depth + u64::from(open.count_ones()) - closes;
                st.in_string = inside >> 63 == 1;
                pos += 64;
                continue;
            }
            let mut brackets = open | close;
            while brackets != 0 {
                let at = brackets.trailing_zeros();
                if m.open >> at & 1 == 1 {
                    st.depth += 1;
                } else {
                    st.depth = st.depth.saturating_sub(1);
                    if st.depth == 0 {
                        return Some(pos + at as usize + 1);
                    }
                }
                brackets &= brackets - 1;
            }
            st.in_string = inside >> 63 == 1;
        }
        pos += 64;
    }
    None
}

/// One block, byte by byte; the offset just after the closing bracket if it is in this block.
fn scalar(block: &[u8; 64], st: &mut State) -> Option<usize> {
    for (i, &c) in block.iter().enumerate() {
        if st.in_string {
            if st.escape {
                st.escape = false;
            } else if c == b'\\' {
                st.escape = true;
            } else if c == b'"' {
                st.in_string = false;
            }
            continue;
        }
        match c {
            b'"' => st.in_string = true,
            b'{' | b'[' => st.depth += 1,
            b'}' | b']' => {
                st.depth = st.depth.saturating_sub(1);
                if st.depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::container_end;

    #[test]
    fn finds_the_end_past_strings_escapes_and_nesting() {
        let cases = [
            r#"{}"#,
            r#"[]"#,
            r#"{"a":[1,2,{"b":"}]"}],"c":"x"}"#,
            r#"{"a":"he said \"}\" and \\","b":[[[]]]}"#,
            r#"[{"k":"]"},"\\\\",{"x":"\\\""}]"#,
        ];
        for text in cases {
            for pad in [0usize, 1, 30, 63, 64, 65, 127, 200] {
                let long = format!(r#"{{"p":"{}","v":{text}}}"#, "y".repeat(pad));
                assert_eq!(
                    container_end(long.as_bytes(), 0),
                    Some(long.len()),
                    "{long}"
                );
                let with_tail = format!("{long}   ,1]");
                assert_eq!(container_end(with_tail.as_bytes(), 0), Some(long.len()));
            }
            assert_eq!(container_end(text.as_bytes(), 0), Some(text.len()));
            assert_eq!(container_end(&text.as_bytes()[..text.len() - 1], 0), None);
        }
    }

    /// Blocks deep inside a container are counted without being walked: the end is still found
    /// exactly, however the brackets fall across blocks.
    #[test]
    fn finds_the_end_of_deep_containers_spanning_blocks() {
        for depth in [1usize, 2, 3, 5, 9] {
            for filler in [0usize, 7, 40, 63, 64, 100] {
                let inner = format!(r#"{{"s":"{}]}}","n":[1,[2,{{}}]]}}"#, "z".repeat(filler));
                let items = vec![inner; 6].join(",");
                let text = format!("{}{items}{}", "[".repeat(depth), "]".repeat(depth));
                assert_eq!(
                    container_end(text.as_bytes(), 0),
                    Some(text.len()),
                    "{text}"
                );
                let with_tail = format!("{text},[]]");
                assert_eq!(container_end(with_tail.as_bytes(), 0), Some(text.len()));
                assert_eq!(container_end(&text.as_bytes()[..text.len() - 1], 0), None);
            }
        }
    }
}
