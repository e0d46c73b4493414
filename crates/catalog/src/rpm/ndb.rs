//! `Packages.db`, rpm's NDB format (little-endian).
//!
//! Layout: a 32-byte header (`"RpmP"`, version 0, generation, number of slot pages, 16
//! reserved bytes) followed by the rest of the slot pages (4096 bytes each) holding 16-byte
//! slots (`"Slot"`, package index, block offset, block count; the header takes the place of
//! the first two). A used slot points at block `offset` (16-byte blocks) where a blob starts:
//! `"BlbS"`, package index, checksum, length, then the header blob.

/// The file magic.
pub const MAGIC: &[u8] = b"RpmP";
const SLOT_MAGIC: &[u8] = b"Slot";
const BLOB_MAGIC: &[u8] = b"BlbS";
const PAGE: usize = 4096;
const SLOT: usize = 16;
const BLOCK: usize = 16;
/// Most slot pages accepted.
const MAX_SLOT_PAGES: u32 = 2048;
/// Largest blob accepted.
const MAX_BLOB: u32 = 64 * 1024 * 1024;

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let chunk = bytes.get(at..at.checked_add(4)?)?;
    let mut word = [0u8; 4];
    word.copy_from_slice(chunk);
    Some(u32::from_le_bytes(word))
}

/// The blobs of every used slot, each with its package index, and the problems met with
/// individual slots. `Err` when the file is not an NDB database at all.
pub type Blobs<'a> = (Vec<(u32, &'a [u8])>, Vec<String>);

/// Read the package blobs.
pub fn read_blobs(bytes: &[u8]) -> Result<Blobs<'_>, String> {
    if bytes.get(..4) != Some(MAGIC) {
        return Err("not an NDB database (bad magic)".into());
    }
    let version = le_u32(bytes, 4).ok_or("truncated NDB header")?;
    let slot_pages = le_u32(bytes, 12).ok_or("truncated NDB header")?;
    if version != 0 {
        return Err(format!("unsupported NDB version {version}"));
    }
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES {
        return Err(format!("NDB slot page count {slot_pages} out of range"));
    }
    let slots_end = (slot_pages as usize).saturating_mul(PAGE);
    if slots_end > bytes.len() {
        return Err(format!(
            "NDB declares {slot_pages} slot pages but the file has only {} bytes",
            bytes.len()
        ));
    }
    let mut blobs = Vec::new();
    let mut problems = Vec::new();
    let mut at = 2 * SLOT;
    while at + SLOT <= slots_end {
        let slot_number = at / SLOT;
        let slot = bytes.get(at..at + SLOT).unwrap_or_default();
        at += SLOT;
        if slot.get(..4) != Some(SLOT_MAGIC) {
            problems.push(format!(
                "slot {slot_number}: bad slot magic; remaining slots skipped"
            ));
            break;
        }
        let (Some(pkg), Some(block), Some(_count)) =
            (le_u32(slot, 4), le_u32(slot, 8), le_u32(slot, 12))
        else {
            continue;
        };
        if pkg == 0 {
            continue;
        }
        match blob_at(bytes, pkg, block) {
            Ok(blob) => blobs.push((pkg, blob)),
            Err(why) => problems.push(format!("package index {pkg}: {why}")),
        }
    }
    Ok((blobs, problems))
}

fn blob_at(bytes: &[u8], pkg: u32, block: u32) -> Result<&[u8], String> {
    let start = (block as usize)
        .checked_mul(BLOCK)
        .ok_or("block offset overflows")?;
    if bytes.get(start..start.saturating_add(4)) != Some(BLOB_MAGIC) {
        return Err(format!("no blob magic at block {block}"));
    }
    let owner = le_u32(bytes, start + 4).ok_or("truncated blob header")?;
    let len = le_u32(bytes, start + 12).ok_or("truncated blob header")?;
    if owner != pkg {
        return Err(format!("blob at block {block} belongs to package {owner}"));
    }
    if len > MAX_BLOB {
        return Err(format!("blob length {len} too large"));
    }
    let data_start = start + 16;
    bytes
        .get(data_start..data_start.saturating_add(len as usize))
        .ok_or_else(|| format!("blob of {len} bytes at block {block} runs past the end of file"))
}
