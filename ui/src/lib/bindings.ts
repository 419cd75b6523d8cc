// Generated from crates/ipc by `make bindings`. Do not edit: a test fails when stale.

export type IpcError = { code: string, params: { [key in string]: string }, };

export type Language = "fr" | "nl" | "en" | "de";

export type LanguageInfo = { code: Language, endonym: string, };

export type AppInfo = { version: string, languages: Array<LanguageInfo>, 
/**
 * The language the window opens in.
 */
default_language: Language, 
/**
 * Seconds without interaction before the resident's data is wiped and
 * the window returns to welcome; a countdown shows for the last
 * `idle_warning_seconds`.
 */
idle_seconds: number, idle_warning_seconds: number, };

export type Channel = "eid" | "manual" | "none";

export type AgeBand = "under_18" | "18_29" | "30_44" | "45_64" | "65_74" | "75_plus" | "unknown";

export type Code = string;

export type VisitRecord = { procedure: Code, outcome: Code, language: Language, channel: Channel, age_band: AgeBand, residence: string, };

export type ReaderState = "starting" | "service_unavailable" | "no_reader" | "insert_card" | "reading" | "read" | "not_eid" | "removed_too_early" | "read_failed";

export type KioskView = { language: Language, reader: ReaderState, 
/**
 * The resident's first given name while their card is in, to greet them.
 */
greeting: string | null, screen: Screen, 
/**
 * Procedures refused because their file is broken, for the steward
 * ("file:line: problem"); residents never see these.
 */
flow_problems: Array<string>, 
/**
 * Training mode: sample residents instead of (or besides) cards, and
 * nothing is counted. The window marks every screen while it is on.
 */
training: boolean, 
/**
 * The sample residents offered while training (empty otherwise).
 */
training_residents: Array<TrainingResident>, };

export type Screen = { "kind": "welcome" } | { "kind": "procedures", procedures: Array<ProcedureView>, } | { "kind": "journey", view: View, } | { "kind": "take_card" };

export type Command = { "type": "set_language", language: Language, } | { "type": "show_procedures" } | { "type": "start_procedure", procedure: string, } | { "type": "journey", event: Event, } | { "type": "home", reason: AbandonReason, } | { "type": "training_card_in", index: number, } | { "type": "training_card_out" };

export type ProcedureView = { id: string, title: string, summary: string, pictogram: string, };

export type View = { procedure: string, procedure_title: string, language: Language, step: string, kind: ViewKind, title: string, 
/**
 * Paragraphs (the flow separates them with a blank line).
 */
body: Array<string>, pictogram: string, options: Array<ViewOption>, identify: IdentifyView | null, 
/**
 * Formatted as on the card (`85.07.30-033.28`), and only on a step that
 * shows it: every other view leaves it out.
 */
national_number: string | null, postcode: string | null, nearby: Array<SiteView> | null, 
/**
 * On the end step: the outcome code that will be counted.
 */
outcome: string | null, error: ViewError | null, can_go_back: boolean, 
/**
 * The steward can undo the last answer (choice, tick, identification).
 */
can_undo: boolean, progress: Progress, };

export type ViewKind = "info" | "check" | "choice" | "identify" | "end";

export type ViewOption = { id: string, label: string, pictogram: string | null, };

export type Progress = { 
/**
 * 1-based: "step `step` of `of`".
 */
step: number, 
/**
 * The longest way left from here, so it never shrinks backwards.
 */
of: number, };

export type IdentifyView = { 
/**
 * The steward may type instead of reading the card.
 */
manual_entry: boolean, asks_number: boolean, asks_postcode: boolean, };

export type ErrorCode = "number_length" | "number_not_digits" | "number_check_digits" | "number_impossible_date" | "postcode_format" | "card_no_number" | "card_no_postcode";

export type ViewError = { code: ErrorCode, params: { [key in string]: string }, 
/**
 * Already in the journey's language.
 */
message: string, };

export type Nearness = "own" | "neighbouring" | "other";

export type SiteView = { id: string, name: string, addresses: Array<string>, postcode: string, municipality: string, phone: string | null, nearness: Nearness, };

export type Event = { "type": "next" } | { "type": "tick" } | { "type": "choose", option: string, } | { "type": "manual", number: string, postcode: string, } | { "type": "back" } | { "type": "undo" } | { "type": "restart" } | { "type": "finish" } | { "type": "language", language: Language, } | { "type": "abandon", reason: AbandonReason, };

export type AbandonReason = "idle" | "card_removed" | "quit";

export type TrainingResident = { first_name: string, 
/**
 * ISO 8601, partial when the sample card's date is.
 */
birth: string, postcode: string, };

export type SyncStatus = { 
/**
 * A hub is configured (the kiosk is enrolled).
 */
enrolled: boolean, hub: string | null, site: string | null, 
/**
 * RFC 3339.
 */
last_success: string | null, last_attempt: string | null, 
/**
 * Cells changed since the hub last acknowledged them.
 */
pending_cells: number, 
/**
 * The last failure in plain words; `None` once a sync succeeds.
 */
last_error: string | null, 
/**
 * The same failure as a stable code ([`SyncError::code`]) the window translates.
 */
last_error_code: string | null, 
/**
 * Kiosk clock minus hub clock, in seconds, at the last contact.
 */
clock_skew_secs: number | null, 
/**
 * `|clock_skew_secs|` is over five minutes: the steward should fix the clock.
 */
clock_skew_warning: boolean, next_attempt: string | null, };

export type Counting = "counting" | "no_session" | "store_unavailable";

export type SummaryRow = { procedure: Code, outcome: Code, visits: number, };

export type SummaryView = { visits: number, undone: number, rows: Array<SummaryRow>, };

export type SessionView = { id: number, 
/**
 * The site's name (a DPS's name, or "place (municipality)").
 */
site: string, site_code: Code, 
/**
 * RFC 3339.
 */
started_at: string, ended_at: string | null, summary: SummaryView, };

export type StewardStatus = { pin_set: boolean, unlocked: boolean, counting: Counting, session: SessionView | null, 
/**
 * Number, within its session, of the last visit confirmed on disk.
 */
last_counted: number | null, 
/**
 * Why the store could not be opened, as an error code the window
 * translates (`error-<code>`); `None` when it is open.
 */
store_problem: string | null, 
/**
 * The steward has notices to read in the steward area (a quarantine…).
 * Only a flag: the details are behind the PIN, never on a resident's
 * screen.
 */
notice: boolean, sync: SyncStatus, 
/**
 * Where this status stands among all the statuses sent to the window
 * (events and command replies), stamped by the shell in the order their
 * state was read; 0 until stamped. Replies and events can arrive out of
 * order, so the window never replaces a status with a lower `seq`.
 */
seq: number, };

export type SiteOption = { id: Code, name: string, municipality: string, };

export type MunicipalityOption = { slug: string, name_fr: string, name_nl: string, };

export type NoticeView = { "kind": "quarantined", 
/**
 * RFC 3339.
 */
at: string, moved_to: string, session_resumed: boolean, } | { "kind": "settings_reset", at: string, moved_to: string, };

export type ProcedureTitle = { id: Code, title: string, };

export type StewardArea = { today: SummaryView, 
/**
 * The last session ended, with its summary (shown after "end session").
 */
last_ended: SessionView | null, sites: Array<SiteOption>, municipalities: Array<MunicipalityOption>, language: Language, 
/**
 * `None` when start at login cannot be managed here (no config dir).
 */
autostart: boolean | null, 
/**
 * The last visit undone in this session, by its number.
 */
last_undone: number | null, 
/**
 * Store notices not yet acknowledged, oldest first.
 */
notices: Array<NoticeView>, 
/**
 * The procedures' titles in the steward's language (summaries show
 * these, not ids; a procedure no longer offered shows its id).
 */
procedures: Array<ProcedureTitle>, 
/**
 * Where the last support bundle was written (this unlock).
 */
support_bundle: string | null, };

export type StewardReply = { status: StewardStatus, area: StewardArea | null, };

export type SiteChoice = { "kind": "certified", id: string, } | { "kind": "pop_up", place: string, municipality: string, };

export type StewardAction = { "type": "set_pin", pin: string, confirm: string, } | { "type": "unlock", pin: string, } | { "type": "lock" } | { "type": "change_pin", current: string, pin: string, confirm: string, } | { "type": "start_session", site: SiteChoice, } | { "type": "end_session" } | { "type": "undo_last" } | { "type": "set_language", language: Language, } | { "type": "set_training", on: boolean, } | { "type": "set_autostart", on: boolean, } | { "type": "sync_now" } | { "type": "enrol", hub: string, code: string, } | { "type": "acknowledge_notices" } | { "type": "support_bundle" } | { "type": "quit" };
