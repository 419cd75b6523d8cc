# Die Seite der Betreuerin: Statusleiste, erster Start, Betreuerbereich,
# Übungsmodus. In der Sprache der Betreuerin.

status-session = Sitzung: { $site } · { $visits ->
    [one] 1 Besuch
   *[other] { $visits } Besuche
  }
status-counting-counting = Besuche werden gezählt.
status-counting-no_session = Keine Sitzung offen: Besuche werden nicht gezählt.
status-counting-store_unavailable = Die Zählungen können nicht geöffnet werden: Besuche werden nicht gezählt.
status-sync-ok = Synchronisiert { $time } · { $pending } wartend
status-sync-never = Noch nicht synchronisiert · { $pending } wartend
status-sync-error = Synchronisierungsproblem · { $pending } wartend
steward-open = Betreuung

setup-title = Diesen Kiosk einrichten
setup-intro = Wählen Sie Ihre Sprache und eine PIN (4 bis 12 Ziffern). Die PIN schützt den Betreuerbereich: Sitzungen, Zählungen und das Verlassen des Kiosks.
setup-pin = Neue PIN
setup-pin-again = Dieselbe PIN noch einmal
setup-continue = Weiter

steward-title = Betreuerbereich
steward-close = Schließen
steward-pin = PIN
steward-unlock = Öffnen
steward-language = Sprache des Betreuerbereichs
steward-session = Einsatzsitzung
steward-session-at = In { $site }, seit { $since }.
steward-visits = { $visits } Besuche gezählt, { $undone } rückgängig gemacht.
steward-procedure = Verfahren
steward-outcome = Ergebnis
steward-count = Besuche
steward-undone = Besuch { $n } wurde rückgängig gemacht.
steward-undo = Letzten Besuch rückgängig machen
steward-end = Sitzung beenden
steward-where = Wo sind Sie heute?
steward-certified = Ein zertifizierter DPS
steward-popup = Ein temporärer Ort
steward-site = DPS
steward-place = Ort (z. B. Sonntagsmarkt)
steward-municipality = Gemeinde
steward-start = Sitzung öffnen
steward-last-session = Letzte Sitzung: { $site }, beendet { $ended }
steward-today = Heute
steward-sync = Zählungen an die Koordination senden
steward-sync-hub = Server: { $hub } (Ort { $site })
steward-sync-last = Zuletzt gesendet: { $when } · { $pending } Änderungen wartend
steward-clock-skew = Die Uhr dieses Computers geht { $minutes } Minuten falsch. Stellen Sie die richtige Zeit ein.
steward-sync-now = Jetzt senden
steward-sync-started = Senden gestartet.
steward-sync-not-enrolled = Dieser Kiosk ist noch mit keinem Server verbunden. Geben Sie die Serveradresse und den Code der Koordination ein.
steward-sync-reenrol = Um diesen Kiosk erneut zu verbinden (seine Zählungen bleiben seine eigenen), geben Sie den neuen Code der Koordination ein.
steward-hub = Serveradresse
steward-code = Code
steward-enrol = Verbinden
steward-enrolled = Mit dem Server verbunden.
steward-settings = Einstellungen
steward-training = Übungsmodus
steward-autostart = Beim Anmelden starten
steward-change-pin = PIN ändern
steward-pin-current = Aktuelle PIN
steward-pin-changed = Die PIN wurde geändert.
steward-quit-title = Den Kiosk verlassen
steward-quit = DPS Kiosk beenden

training-banner = ÜBUNG — nichts wird gezählt oder gesendet
training-cards = Beispielpersonen
training-card = { $name } · { $birth } · { $postcode }
training-card-out = Karte herausnehmen

sync-error-not_enrolled = Noch mit keinem Server verbunden.
sync-error-config = Die Einstellungen sind falsch: mit einem neuen Code neu verbinden.
sync-error-unreachable = Der Server ist nicht erreichbar (keine Verbindung?). Der Kiosk versucht es selbst erneut.
sync-error-timeout = Der Server hat nicht rechtzeitig geantwortet. Der Kiosk versucht es selbst erneut.
sync-error-refused = Der Server lehnt dieses Gerät ab: bitten Sie die Koordination um einen neuen Code.
sync-error-bad_code = Dieser Code ist falsch, schon benutzt oder abgelaufen: bitten Sie die Koordination um einen neuen.
sync-error-forbidden_replica = Der Server sagt, diese Zählungen gehören einem anderen Gerät: bitten Sie um einen neuen Code.
sync-error-unsupported_version = Der Server spricht eine andere Version: dieser Kiosk braucht ein Update.
sync-error-rejected = Der Server hat die Zählungen abgelehnt: informieren Sie die Koordination.
sync-error-hub_failed = Der Server hatte ein Problem. Der Kiosk versucht es selbst erneut.
sync-error-protocol = Der Server hat etwas geantwortet, das dieser Kiosk nicht versteht: informieren Sie die Koordination.
sync-error-store = Der Kiosk konnte seine eigenen Zählungen nicht lesen.

error-steward_locked = Der Betreuerbereich ist gesperrt: geben Sie die PIN ein.
error-pin_wrong = Falsche PIN. { $left ->
    [one] Noch 1 Versuch.
   *[other] Noch { $left } Versuche.
  }
error-pin_locked_out = Zu viele falsche PINs. Versuchen Sie es in { $minutes } Minuten erneut.
error-pin_mismatch = Die beiden PINs sind nicht gleich.
error-pin_format = Eine PIN hat 4 bis 12 Ziffern.
error-pin_already_set = Es ist bereits eine PIN gesetzt.
error-pin_not_set = Es ist noch keine PIN gesetzt.
error-store_unavailable = Die Zählungen können auf diesem Kiosk nicht geöffnet werden.
error-store_in_use = Die Zählungen sind in einem anderen Programm geöffnet.
error-store_failed = Die Zählungen konnten nicht gespeichert werden. Prüfen Sie den freien Speicherplatz.
error-site_invalid = Wählen Sie einen DPS, oder geben Sie einen Ort und seine Gemeinde an.
error-no_session = Es ist keine Sitzung offen.
error-session_open = Es ist bereits eine Sitzung offen.
error-nothing_to_undo = In dieser Sitzung gibt es keinen Besuch zum Rückgängigmachen.
error-autostart_failed = Der Start beim Anmelden konnte nicht geändert werden.
error-enrol_device_active = Dieser Kiosk ist auf dem Server noch aktiv: die Koordination muss ihn zuerst sperren und Ihnen dann einen neuen Code geben.
error-enrol_bad_code = Dieser Code ist falsch, schon benutzt oder abgelaufen: bitten Sie die Koordination um einen neuen.
error-enrol_unreachable = Der Server ist nicht erreichbar. Prüfen Sie die Adresse und die Verbindung.
error-enrol_failed = Die Verbindung zum Server ist fehlgeschlagen. Prüfen Sie die Adresse und versuchen Sie es erneut.

# Das Synchronisierungsfeld der Statusleiste, wenn der letzte Versuch
# scheiterte: kurz, nach dem letzten Erfolg und den wartenden Änderungen.
sync-short-not_enrolled = mit keinem Server verbunden
sync-short-config = Einstellungen falsch: neu verbinden
sync-short-unreachable = Server nicht erreichbar, neuer Versuch
sync-short-timeout = Server zu langsam, neuer Versuch
sync-short-refused = Gerät abgelehnt: neuen Code anfordern
sync-short-bad_code = Code abgelehnt: einen neuen anfordern
sync-short-forbidden_replica = Zählungen abgelehnt: neuen Code anfordern
sync-short-unsupported_version = der Kiosk braucht ein Update
sync-short-rejected = Zählungen abgewiesen: Koordination informieren
sync-short-hub_failed = Serverproblem, neuer Versuch
sync-short-protocol = Serverantwort unverständlich: Koordination informieren
sync-short-store = Zählungen unlesbar
status-sync-clock = Uhr { $minutes } Min. falsch
status-notice = Nachricht für die Betreuung

steward-notices-title = Zu diesem Kiosk
notice-quarantined = Am { $when } waren die Zählungen dieses Kiosks beschädigt und konnten nicht gelesen werden. Sie wurden in { $path } beiseitegelegt. { $resumed ->
    [yes] Das Zählen geht in derselben Sitzung weiter, in einer neuen Datei.
   *[no] Das Zählen geht in einer neuen Datei weiter, sobald eine Sitzung gestartet ist.
  } PIN, Sprache und Serververbindung bleiben erhalten; bereits an den Server gesendete Besuche sind dort sicher.
notice-settings_reset = Am { $when } konnten die Einstellungen dieses Kiosks nicht gelesen werden. Sie wurden in { $path } beiseitegelegt. Die Zählungen sind unberührt; die PIN wurde neu gewählt, und für die Serververbindung braucht es einen neuen Code der Koordination.
steward-notices-ack = Verstanden

steward-support-title = Hilfe vom Helpdesk
steward-support-intro = Stecken Sie einen USB-Stick ein und schreiben Sie dann das Supportpaket: die Protokolle und die Prüfungen des Kiosks, ohne Zählungen und ohne personenbezogene Daten.
steward-support-write = Das Supportpaket auf den USB-Stick schreiben
steward-support-written = Das Supportpaket wurde nach { $path } geschrieben.

outcome-appointment_booked = Termin gebucht
outcome-waiting_list = Auf der Warteliste
outcome-waiting_list_closed = Warteliste geschlossen
outcome-not_yet_eligible = Noch nicht berechtigt
outcome-referred = Weiterverwiesen
outcome-help_email = Hilfe mit E-Mails
outcome-help_smartphone = Hilfe mit dem Smartphone
outcome-help_login = Hilfe beim Anmelden
outcome-help_forms = Hilfe mit einem Formular
outcome-help_other = Andere Hilfe

error-store_damaged = Die Zählungen sind beschädigt. Starten Sie den Kiosk neu: Er legt sie beiseite und zählt in einer neuen Datei weiter; PIN und Serververbindung bleiben erhalten.
error-bundle_no_stick = Es wurde kein USB-Stick gefunden. Stecken Sie einen ein, warten Sie einige Sekunden und versuchen Sie es erneut.
error-bundle_failed = Das Supportpaket konnte nicht auf den Stick geschrieben werden. Versuchen Sie einen anderen Stick.
