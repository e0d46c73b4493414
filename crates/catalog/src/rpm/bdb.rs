//! `Packages`, the Berkeley DB hash database of older rpm versions.
//!
//! Page 0 is the hash metadata page (magic `0x061561` at offset 12, page size at 20, last
//! page number at 32, page type 8 at 25; the byte order is the writer's, told by the magic).
//! Hash pages (type 13, or 2 for unsorted) hold an array of item offsets after the 26-byte
//! page header; items alternate key, value. Package headers are large values stored off-page
//! (item type 3: page number at +4, total length at +8) in a chain of overflow pages (type 7)
//! whose page header gives the bytes used on the page (offset 22) and the next page (16).

/// The hash database magic number.
pub const MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const HASH_META: u8 = 8;
const HASH_PAGE: u8 = 13;
const HASH_UNSORTED: u8 = 2;
const OVERFLOW_PAGE: u8 = 7;
const ITEM_OFFPAGE: u8 = 3;
/// Largest value accepted.
const MAX_VALUE: u32 = 64 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Order {
    big_endian: bool,
}

impl Order {
    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let chunk = bytes.get(at..at.checked_add(4)?)?;
        let mut word = [0u8; 4];
        word.copy_from_slice(chunk);
        Some(if self.big_endian {
            u32::from_be_bytes(word)
        } else {
            u32::from_le_bytes(word)
        })
    }

    fn u16(self, bytes: &[u8], at: usize) -> Option<u16> {
        let chunk = bytes.get(at..at.checked_add(2)?)?;
        let word = [chunk.first().copied()?, chunk.get(1).copied()?];
        Some(if self.big_endian {
            u16::from_be_bytes(word)
        } else {
            u16::from_le_bytes(word)
        })
    }
}

/// Does this look like a Berkeley DB hash file?
pub fn is_bdb(bytes: &[u8]) -> bool {
    byte_order(bytes).is_some()
}

fn byte_order(bytes: &[u8]) -> Option<Order> {
    let le = Order { big_endian: false };
    let be = Order { big_endian: true };
    if le.u32(bytes, 12) == Some(MAGIC) {
        Some(le)
    } else if be.u32(bytes, 12) == Some(MAGIC) {
        Some(be)
    } else {
        None
    }
}

/// Values (with the hash page they were listed on) and the problems met along the way.
pub type Blobs = (Vec<(u32, Vec<u8>)>, Vec<String>);

/// The off-page values of every hash page (the package header blobs), each with the page
/// it was listed on, and the problems met. `Err` when the file is not a hash database.
pub fn read_blobs(bytes: &[u8]) -> Result<Blobs, String> {
    let order = byte_order(bytes).ok_or("not a Berkeley DB hash database (bad magic)")?;
    let page_size = order.u32(bytes, 20).ok_or("truncated metadata page")?;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("invalid page size {page_size}"));
    }
    if bytes.get(24) != Some(&0) {
        return Err("encrypted databases are not supported".into());
    }
    if bytes.get(25) != Some(&HASH_META) {
        return Err("page 0 is not a hash metadata page".into());
    }
    let page_size = page_size as usize;
    let last_page = order.u32(bytes, 32).ok_or("truncated metadata page")?;
    let pages_in_file = bytes.len() / page_size;
    let mut problems = Vec::new();
    let page_count = (last_page as usize).saturating_add(1);
    if page_count > pages_in_file {
        problems.push(format!(
            "metadata says {page_count} pages but the file holds {pages_in_file}; reading those"
        ));
    }
    let page_count = page_count.min(pages_in_file);
    let page = |number: usize| -> Option<&[u8]> {
        let start = number.checked_mul(page_size)?;
        bytes.get(start..start.checked_add(page_size)?)
    };
    let mut blobs = Vec::new();
    for number in 1..page_count {
        let Some(data) = page(number) else { break };
        let kind = data.get(25).copied().unwrap_or(0);
        if kind != HASH_PAGE && kind != HASH_UNSORTED {
            continue;
        }
        let entries = order.u16(data, 20).unwrap_or(0) as usize;
        // Values are the odd items.
        for item in (1..entries).step_by(2) {
            let Some(offset) = order.u16(data, PAGE_HEADER + item * 2) else {
                problems.push(format!("page {number}: item index runs past the page"));
                break;
            };
            let offset = offset as usize;
            if data.get(offset) != Some(&ITEM_OFFPAGE) {
                continue;
            }
            let (Some(first), Some(total)) =
                (order.u32(data, offset + 4), order.u32(data, offset + 8))
            else {
                problems.push(format!(
                    "page {number} item {item}: truncated off-page item"
                ));
                continue;
            };
            match overflow_chain(first, total, page_count, &page, order) {
                Ok(value) => blobs.push((u32::try_from(number).unwrap_or(u32::MAX), value)),
                Err(why) => problems.push(format!("page {number} item {item}: {why}")),
            }
        }
    }
    Ok((blobs, problems))
}

fn overflow_chain<'a>(
    first: u32,
    total: u32,
    page_count: usize,
    page: &dyn Fn(usize) -> Option<&'a [u8]>,
    order: Order,
) -> Result<Vec<u8>, String> {
    if total > MAX_VALUE {
        return Err(format!("value length {total} too large"));
    }
    let mut value = Vec::with_capacity(total as usize);
    let mut current = first;
    let mut hops = 0usize;
    while current != 0 {
        hops += 1;
        if hops > page_count {
            return Err("overflow chain loops".into());
        }
        let data = page(current as usize)
            .ok_or_else(|| format!("overflow page {current} is past the end of file"))?;
        if data.get(25) != Some(&OVERFLOW_PAGE) {
            return Err(format!("page {current} is not an overflow page"));
        }
        let used = order.u16(data, 22).unwrap_or(0) as usize;
        let chunk = data
            .get(PAGE_HEADER..PAGE_HEADER.saturating_add(used))
            .ok_or_else(|| format!("overflow page {current} claims {used} bytes"))?;
        value.extend_from_slice(chunk);
        if value.len() >= total as usize {
            break;
        }
        current = order.u32(data, 16).unwrap_or(0);
    }
    if value.len() < total as usize {
        return Err(format!(
            "overflow chain ended after {} of {total} bytes",
            value.len()
        ));
    }
    value.truncate(total as usize);
    Ok(value)
}
