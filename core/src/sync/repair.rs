//! Noticing withheld bundles. The pull cursor is the relay's word; two signs that the relay held
//! bundles back are gaps in another device's sequence numbers and changes waiting for a missing
//! dependency. The engine then pulls everything again from the start (duplicates are skipped,
//! an honest relay fills the holes), at most [`GAP_PULLS`] times for one set of gaps, each at a
//! new relay head: gaps may also be legitimate, as snapshots and erasures let the relay drop
//! bundles.

use rusqlite::Connection;
use sha2::Digest;

use crate::error::Result;
use crate::store::db;
use crate::vault::Inner;

/// Full pulls made for one set of gaps in other devices' sequence numbers.
pub(crate) const GAP_PULLS: u8 = 2;

/// What was pulled for the current gaps: their fingerprint, how many full pulls saw them, and
/// the relay head at the last one. Stored as `pulls u8 | head u64 | fingerprint`.
pub(crate) struct GapPulls {
    pub(crate) gaps: Vec<u8>,
    pub(crate) pulls: u8,
    pub(crate) head: u64,
}

impl GapPulls {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.pulls];
        out.extend_from_slice(&self.head.to_be_bytes());
        out.extend_from_slice(&self.gaps);
        out
    }

    pub(crate) fn decode(b: &[u8]) -> Option<GapPulls> {
        let (&pulls, rest) = b.split_first()?;
        let head = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        Some(GapPulls { gaps: rest[8..].to_vec(), pulls, head })
    }
}

/// A fingerprint of the gaps in other devices' sequence numbers, `None` if there are none.
fn gaps(conn: &Connection) -> Result<Option<Vec<u8>>> {
    let gaps = db::applied_gaps(conn)?;
    if gaps.is_empty() {
        return Ok(None);
    }
    let mut h = sha2::Sha256::new();
    for (device, gap) in gaps {
        h.update(&device);
        h.update(gap.to_be_bytes());
    }
    Ok(Some(h.finalize().to_vec()))
}

/// What seems missing: the gaps' fingerprint (see [`gaps`]), and whether any loaded record has
/// changes waiting for dependencies.
pub(crate) fn holes(v: &mut Inner) -> Result<(Option<Vec<u8>>, bool)> {
    let gaps = gaps(&v.conn)?;
    let waiting = v.docs.values_mut().any(|c| !c.doc.get_missing_deps(&[]).is_empty());
    Ok((gaps, waiting))
}
