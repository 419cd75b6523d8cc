# The steward's side of the window: status bar chips, first start, the
# steward area, training mode. Shown in the steward's language.

status-session = Session: { $site } · { $visits ->
    [one] 1 visit
   *[other] { $visits } visits
  }
status-counting-counting = Visits are counted.
status-counting-no_session = No session open: visits are not counted.
status-counting-store_unavailable = The visit counts cannot be opened: visits are not counted.
status-sync-ok = Synced { $time } · { $pending } waiting
status-sync-never = Not synced yet · { $pending } waiting
status-sync-error = Sync problem · { $pending } waiting
steward-open = Steward

setup-title = Set up this kiosk
setup-intro = Choose your language and a PIN (4 to 12 digits). The PIN protects the steward area: sessions, counts and leaving the kiosk.
setup-pin = New PIN
setup-pin-again = The same PIN again
setup-continue = Continue

steward-title = Steward area
steward-close = Close
steward-pin = PIN
steward-unlock = Open
steward-language = Language of the steward area
steward-session = Outreach session
steward-session-at = At { $site }, since { $since }.
steward-visits = { $visits } visits counted, { $undone } undone.
steward-procedure = Procedure
steward-outcome = Outcome
steward-count = Visits
steward-undone = Visit { $n } was undone.
steward-undo = Undo last visit
steward-end = End the session
steward-where = Where are you today?
steward-certified = A certified DPS
steward-popup = A pop-up place
steward-site = DPS
steward-place = Place (e.g. Sunday market)
steward-municipality = Municipality
steward-start = Start the session
steward-last-session = Last session: { $site }, ended { $ended }
steward-today = Today
steward-sync = Sending counts to the coordination
steward-sync-hub = Hub: { $hub } (site { $site })
steward-sync-last = Last sent: { $when } · { $pending } changes waiting
steward-clock-skew = This computer's clock is { $minutes } minutes off. Set the right time.
steward-sync-now = Send now
steward-sync-started = Sending started.
steward-sync-not-enrolled = This kiosk is not connected to a hub yet. Enter the hub address and the code from the coordination.
steward-sync-reenrol = To connect this kiosk again (its counts stay its own), enter the new code from the coordination.
steward-hub = Hub address
steward-code = Code
steward-enrol = Connect
steward-enrolled = Connected to the hub.
steward-settings = Settings
steward-training = Training mode
steward-autostart = Start at login
steward-change-pin = Change the PIN
steward-pin-current = Current PIN
steward-pin-changed = The PIN was changed.
steward-quit-title = Leave the kiosk
steward-quit = Quit DPS Kiosk

training-banner = TRAINING — nothing is counted or sent
training-cards = Sample residents
training-card = { $name } · { $birth } · { $postcode }
training-card-out = Take the card out

sync-error-not_enrolled = Not connected to a hub yet.
sync-error-config = The sync settings are wrong: connect again with a new code.
sync-error-unreachable = The hub could not be reached (no connection?). The kiosk retries by itself.
sync-error-timeout = The hub did not answer in time. The kiosk retries by itself.
sync-error-refused = The hub refused this device: ask the coordination for a new code.
sync-error-bad_code = This code is wrong, already used or expired: ask the coordination for a new one.
sync-error-forbidden_replica = The hub says these counts belong to another device: ask the coordination for a new code.
sync-error-unsupported_version = The hub speaks another version: this kiosk needs an update.
sync-error-rejected = The hub rejected the counts: tell the coordination.
sync-error-hub_failed = The hub had a problem. The kiosk retries by itself.
sync-error-protocol = The hub answered something this kiosk does not understand: tell the coordination.
sync-error-store = The kiosk could not read its own counts.

error-steward_locked = The steward area is locked: enter the PIN.
error-pin_wrong = Wrong PIN. { $left ->
    [one] 1 try left.
   *[other] { $left } tries left.
  }
error-pin_locked_out = Too many wrong PINs. Try again in { $minutes } minutes.
error-pin_mismatch = The two PINs are not the same.
error-pin_format = A PIN is 4 to 12 digits.
error-pin_already_set = A PIN is already set.
error-pin_not_set = No PIN is set yet.
error-store_unavailable = The visit counts cannot be opened on this kiosk.
error-store_in_use = The visit counts are open in another program.
error-store_failed = The visit counts could not be written. Check the free disk space.
error-site_invalid = Choose a DPS, or give a place name and its municipality.
error-no_session = No session is open.
error-session_open = A session is already open.
error-nothing_to_undo = There is no visit to undo in this session.
error-autostart_failed = Start at login could not be changed.
error-enrol_device_active = This kiosk is still active on the hub: the coordination must revoke it first, then give you a new code.
error-enrol_bad_code = This code is wrong, already used or expired: ask the coordination for a new one.
error-enrol_unreachable = The hub could not be reached. Check the address and the connection.
error-enrol_failed = Connecting to the hub failed. Check the address and try again.

# The status bar's sync chip, when the last attempt failed: short, after the
# last success and the changes waiting.
sync-short-not_enrolled = not connected to a hub
sync-short-config = settings wrong: connect again
sync-short-unreachable = hub unreachable, retrying
sync-short-timeout = hub too slow, retrying
sync-short-refused = device refused: ask for a new code
sync-short-bad_code = code refused: ask for a new one
sync-short-forbidden_replica = counts refused: ask for a new code
sync-short-unsupported_version = the kiosk needs an update
sync-short-rejected = counts rejected: tell the coordination
sync-short-hub_failed = hub problem, retrying
sync-short-protocol = hub answer not understood: tell the coordination
sync-short-store = counts unreadable
status-sync-clock = clock { $minutes } min off
status-notice = Note for the steward

steward-notices-title = About this kiosk
notice-quarantined = On { $when }, the visit counts on this kiosk were damaged and could not be read. They were set aside in { $path }. { $resumed ->
    [yes] Counting continues in the same session, in a new store.
   *[no] Counting continues in a new store as soon as a session is started.
  } The PIN, the language and the hub connection are kept; visits already sent to the hub are safe there.
notice-settings_reset = On { $when }, the settings of this kiosk could not be read. They were set aside in { $path }. The visit counts are untouched; the PIN was chosen again, and the hub connection needs a new code from the coordination.
steward-notices-ack = Understood

steward-support-title = Help from the helpdesk
steward-support-intro = Plug in a USB stick, then write the support bundle: the logs and the kiosk's checks, without visit counts or personal data.
steward-support-write = Write the support bundle on the USB stick
steward-support-written = The support bundle was written to { $path }.

outcome-appointment_booked = Appointment booked
outcome-waiting_list = On the waiting list
outcome-waiting_list_closed = Waiting list closed
outcome-not_yet_eligible = Not yet eligible
outcome-referred = Referred elsewhere
outcome-help_email = Help with e-mails
outcome-help_smartphone = Help with a smartphone
outcome-help_login = Help logging in
outcome-help_forms = Help with a form
outcome-help_other = Other help

error-store_damaged = The visit counts are damaged. Restart the kiosk: it sets them aside and counts on in a new store; the PIN and the hub connection are kept.
error-bundle_no_stick = No USB stick was found. Plug one in, wait a few seconds and try again.
error-bundle_failed = The support bundle could not be written on the stick. Try another stick.
