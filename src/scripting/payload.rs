//! FUNCTION DUMP / RESTORE payloads: Redis's DUMP format holding the
//! libraries as RDB function records (opcode 245, one RDB string each),
//! then the RDB version (2 bytes, little endian) and a CRC64 (8 bytes).

/// `RDB_OPCODE_FUNCTION2`.
const OPCODE_FUNCTION: u8 = 245;
/// RDB version of Redis 7.0.
const RDB_VERSION: u16 = 10;

/// CRC64 (Jones polynomial, reflected), as Redis checksums payloads.
fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Encodes library codes as a payload.
pub fn encode(codes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION);
        put_len(&mut out, code.len());
        out.extend_from_slice(code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads an RDB length; `Err(kind)` for the special encodings (0xC0…).
fn read_len(data: &[u8], pos: &mut usize) -> Option<Result<usize, u8>> {
    let first = *data.get(*pos)?;
    *pos += 1;
    match first >> 6 {
        0 => Some(Ok((first & 0x3f) as usize)),
        1 => {
            let b = *data.get(*pos)?;
            *pos += 1;
            Some(Ok((((first & 0x3f) as usize) << 8) | b as usize))
        }
        2 if first == 0x80 => {
            let bytes = data.get(*pos..*pos + 4)?;
            *pos += 4;
            Some(Ok(u32::from_be_bytes(bytes.try_into().ok()?) as usize))
        }
        2 if first == 0x81 => {
            let bytes = data.get(*pos..*pos + 8)?;
            *pos += 8;
            usize::try_from(u64::from_be_bytes(bytes.try_into().ok()?))
                .ok()
                .map(Ok)
        }
        3 => Some(Err(first & 0x3f)),
        _ => None,
    }
}

/// LZF decompression (Redis compresses long RDB strings with it).
fn lzf_decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..len + 2 {
                let c = out[start + k];
                out.push(c);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Reads one RDB string (raw or LZF-compressed).
fn read_string(data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    match read_len(data, pos)? {
        Ok(len) => {
            let s = data.get(*pos..pos.checked_add(len)?)?.to_vec();
            *pos += len;
            Some(s)
        }
        Err(3) => {
            let clen = read_len(data, pos)?.ok()?;
            let len = read_len(data, pos)?.ok()?;
            let compressed = data.get(*pos..pos.checked_add(clen)?)?;
            *pos += clen;
            lzf_decompress(compressed, len)
        }
        Err(_) => None,
    }
}

/// Decodes a payload into library codes; None when it is malformed or
/// its version or checksum is wrong.
pub fn decode(payload: &[u8]) -> Option<Vec<Vec<u8>>> {
    if payload.len() < 10 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    if crc64(body).to_le_bytes() != crc {
        return None;
    }
    let (records, version) = body.split_at(body.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > RDB_VERSION {
        return None;
    }
    let mut codes = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        if records[pos] != OPCODE_FUNCTION {
            return None;
        }
        pos += 1;
        codes.push(read_string(records, &mut pos)?);
    }
    Some(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_empty_payload_match_redis() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(encode(&[]), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }

    #[test]
    fn round_trip() {
        let codes = vec![b"#!lua name=a\n".to_vec(), vec![b'x'; 20000]];
        assert_eq!(decode(&encode(&codes)).unwrap(), codes);
        let mut bad = encode(&codes);
        bad[3] ^= 1;
        assert!(decode(&bad).is_none());
    }
}
