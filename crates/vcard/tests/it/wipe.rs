//! Proof that a card's personal data does not outlive it in memory: while a
//! card is read, parsed, verified, handed over as the watcher's event and
//! dropped, every heap block freed (by any thread) is searched for the
//! resident's values. Zeroize-on-drop types wipe their buffers before
//! freeing them, so nothing may be found; a plain `String` field, a buffer
//! that grew by reallocation or a temporary copy would be.
//!
//! The test binary's global allocator ([`Watch`]) does the searching while
//! [`watching`] is on, on every thread (the verification worker gets copies
//! of RSA cards' files). Other tests running meanwhile never hold these
//! values. The birth date and sex live inside the `CardData` block itself
//! (no heap text of their own): that block's bytes are kept as it is freed
//! and the two fields checked.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use dps_eid::apdu::read_card_into;
use dps_eid::{assemble_with, CardCheck, CardData, Event, Sex};
use dps_person::PartialDate;

use super::*;

/// The test binary's allocator: the system's, plus a look at freed blocks.
pub struct Watch;

/// Values that must not be found in freed memory: (what, bytes).
static NEEDLES: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());
static HITS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The block whose bytes are kept when it is freed (0: none), and them.
static KEEP: AtomicUsize = AtomicUsize::new(0);
static KEPT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

static ON: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread inspects a block: what inspecting allocates is not inspected.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

fn on() -> bool {
    ON.load(Ordering::SeqCst) && !INSIDE.try_with(Cell::get).unwrap_or(true)
}

fn inspect(ptr: *const u8, size: usize) {
    if !on() || INSIDE.try_with(|i| i.replace(true)).unwrap_or(true) {
        return;
    }
    // SAFETY: the allocator is handed a live block of `size` bytes, not yet freed.
    let block = unsafe { std::slice::from_raw_parts(ptr, size) };
    if ptr as usize == KEEP.load(Ordering::SeqCst) {
        if let Ok(mut kept) = KEPT.lock() {
            *kept = block.to_vec();
        }
    }
    if let Ok(needles) = NEEDLES.lock() {
        for (what, needle) in needles.iter() {
            if block.windows(needle.len()).any(|w| w == needle.as_slice()) {
                if let Ok(mut hits) = HITS.lock() {
                    hits.push(format!("{what} in a freed block of {size} bytes"));
                }
            }
        }
    }
    INSIDE.with(|i| i.set(false));
}

// SAFETY: every call is forwarded to the system allocator with the same
// arguments; `inspect` only reads the block before it is freed.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        inspect(ptr, layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !on() {
            return System.realloc(ptr, layout, new_size);
        }
        // While watching, a growing buffer always moves, so the block it
        // leaves (as it was) is inspected like any other freed block.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

fn watching(on: bool) {
    ON.store(on, Ordering::SeqCst);
}

/// The in-memory bytes of a value (for `PartialDate`: no padding, all initialised).
fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: reads size_of::<T>() bytes of a live value.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

#[test]
fn a_read_card_leaves_nothing_personal_in_freed_memory() {
    // One at a time: the values are the same for both cards.
    for (applet, key) in [(Applet::V18, KeyKind::Ec), (Applet::V17, KeyKind::Rsa)] {
        read_and_search(applet, key);
    }
}

fn read_and_search(applet: Applet, key: KeyKind) {
    let mut spec = spec(applet, key);
    // Values found nowhere else in this program, each field its own.
    spec.card_number = "591987654321".into();
    spec.valid_from = "17.04.2022".into();
    spec.valid_until = "17.04.2032".into();
    spec.issuing_municipality = "Quaregnonville".into();
    spec.national_number = "85073003328".into();
    spec.surname = "Zébrowskaïa".into();
    spec.given_names = "Wilhelmïne Ottilie".into();
    spec.nationality = "Freedonienne".into();
    spec.birth_place = "Xhoffraix-lès-Bains".into();
    spec.birth_date = "30 JUIL 1985".into();
    spec.sex = "V".into();
    // Not a real document type: a run of digits also occurs in unrelated
    // memory other tests free meanwhile ("000012" was once found in some
    // 4 KiB buffer while the pcscd tests ran).
    spec.document_type = "00WQ7Z9".into();
    spec.street = "Rue des Quatre-Vents 97".into();
    spec.postcode = "B-6598".into();
    spec.municipality = "Yvrehaineville".into();
    let image = CardImage::build(&spec, pki(spec.key)).unwrap();
    let trust = trust(spec.key);
    // Warm: the chain cache and key tables (public data) are built outside the window.
    {
        let (raw, _) = read_direct(&spec);
        dps_eid::assemble("warm", &raw.unwrap(), &trust).unwrap();
    }
    let born = PartialDate::new(1985, Some(7), Some(30)).unwrap();
    let mut needles: Vec<(String, Vec<u8>)> = [
        ("card number", "591987654321"),
        ("validity", "2022-04-17"),
        ("validity", "2032-04-17"),
        ("validity as on the card", "17.04.2022"),
        ("issuing municipality", "Quaregnonville"),
        ("national number", "85073003328"),
        ("surname", "Zébrowskaïa"),
        ("given names", "Wilhelmïne"),
        ("nationality", "Freedonienne"),
        ("birth place", "Xhoffraix"),
        ("birth date as on the card", "30 JUIL 1985"),
        ("birth month name", "JUIL"),
        ("street", "Quatre-Vents"),
        ("postcode", "B-6598"),
        ("municipality", "Yvrehaineville"),
        ("document type", "00WQ7Z9"),
    ]
    .iter()
    .map(|(w, v)| (w.to_string(), v.as_bytes().to_vec()))
    .collect();
    needles.push(("birth date (PartialDate)".into(), bytes_of(&born)));
    *NEEDLES.lock().unwrap() = needles;
    HITS.lock().unwrap().clear();

    watching(true);
    let event = {
        let mut t = Direct {
            session: image.session(),
            remove_at: None,
            n: 0,
            log: Vec::new(),
        };
        let mut check = CardCheck::overlapped(&trust);
        let raw = read_card_into(&mut t, &mut check).unwrap();
        let (data, warnings) = assemble_with("Direct", &raw, || check.finish()).unwrap();
        Event::CardRead {
            reader: "Direct".into(),
            data: Box::new(data),
            warnings,
        }
    };
    let Event::CardRead { data, .. } = &event else {
        unreachable!()
    };
    // What was read is right (so the search below looked at a real read).
    assert_eq!(data.signature, dps_eid::SignatureStatus::Valid);
    assert_eq!(data.birth_date.as_deref(), Some(&born));
    assert_eq!(data.sex.as_deref(), Some(&Sex::Female));
    assert_eq!(
        data.document_type.as_ref().map(|d| d.expose()),
        Some("WQ7Z9")
    );
    let card: &CardData = data;
    KEEP.store(card as *const CardData as usize, Ordering::SeqCst);
    drop(event);
    watching(false);
    KEEP.store(0, Ordering::SeqCst);

    let hits = std::mem::take(&mut *HITS.lock().unwrap());
    assert!(
        hits.is_empty(),
        "{key:?}: personal data left in freed memory: {hits:#?}"
    );
    let kept = std::mem::take(&mut *KEPT.lock().unwrap());
    assert_eq!(
        kept.len(),
        std::mem::size_of::<CardData>(),
        "the card's block was seen"
    );
    // Some(Zeroizing(date)) is the date itself at the field's place. Its year
    // must be 0 (the month and day are zeroized to `None`, whose payload
    // byte the compiler may fill with anything: the needle search above
    // already found no trace of the whole date).
    let year_at =
        std::mem::offset_of!(CardData, birth_date) + std::mem::offset_of!(PartialDate, year);
    assert_eq!(kept[year_at..year_at + 2], [0, 0], "birth year not wiped");
    let sex_at = std::mem::offset_of!(CardData, sex);
    // Some(Zeroizing(Sex::Male)) is the zero byte; Female (the card's) is 1.
    assert_eq!(kept[sex_at], 0, "sex not wiped");
}
