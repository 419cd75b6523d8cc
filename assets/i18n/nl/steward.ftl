# De kant van de begeleider: statusbalk, eerste start, begeleidersruimte,
# oefenmodus. In de taal van de begeleider.

status-session = Sessie: { $site } · { $visits ->
    [one] 1 bezoek
   *[other] { $visits } bezoeken
  }
status-counting-counting = Bezoeken worden geteld.
status-counting-no_session = Geen sessie open: bezoeken worden niet geteld.
status-counting-store_unavailable = De tellingen kunnen niet geopend worden: bezoeken worden niet geteld.
status-sync-ok = Gesynchroniseerd { $time } · { $pending } wachtend
status-sync-never = Nog niet gesynchroniseerd · { $pending } wachtend
status-sync-error = Synchronisatieprobleem · { $pending } wachtend
steward-open = Begeleider

setup-title = Deze kiosk instellen
setup-intro = Kies uw taal en een pincode (4 tot 12 cijfers). De pincode beschermt de begeleidersruimte: sessies, tellingen en de kiosk verlaten.
setup-pin = Nieuwe pincode
setup-pin-again = Dezelfde pincode nog eens
setup-continue = Verder

steward-title = Begeleidersruimte
steward-close = Sluiten
steward-pin = Pincode
steward-unlock = Openen
steward-language = Taal van de begeleidersruimte
steward-session = Permanentiesessie
steward-session-at = In { $site }, sinds { $since }.
steward-visits = { $visits } bezoeken geteld, { $undone } geannuleerd.
steward-procedure = Procedure
steward-outcome = Resultaat
steward-count = Bezoeken
steward-undone = Bezoek { $n } werd geannuleerd.
steward-undo = Laatste bezoek annuleren
steward-end = Sessie beëindigen
steward-where = Waar bent u vandaag?
steward-certified = Een erkende OCR
steward-popup = Een tijdelijke plek
steward-site = OCR
steward-place = Plek (bv. zondagsmarkt)
steward-municipality = Gemeente
steward-start = Sessie openen
steward-last-session = Laatste sessie: { $site }, beëindigd { $ended }
steward-today = Vandaag
steward-sync = Tellingen naar de coördinatie sturen
steward-sync-hub = Server: { $hub } (plek { $site })
steward-sync-last = Laatst verstuurd: { $when } · { $pending } wijzigingen wachtend
steward-clock-skew = De klok van deze computer wijkt { $minutes } minuten af. Zet de juiste tijd.
steward-sync-now = Nu versturen
steward-sync-started = Versturen gestart.
steward-sync-not-enrolled = Deze kiosk is nog niet met een server verbonden. Geef het serveradres en de code van de coördinatie.
steward-sync-reenrol = Om deze kiosk opnieuw te verbinden (zijn tellingen blijven de zijne), voer de nieuwe code van de coördinatie in.
steward-hub = Serveradres
steward-code = Code
steward-enrol = Verbinden
steward-enrolled = Verbonden met de server.
steward-settings = Instellingen
steward-training = Oefenmodus
steward-autostart = Starten bij aanmelden
steward-change-pin = Pincode wijzigen
steward-pin-current = Huidige pincode
steward-pin-changed = De pincode werd gewijzigd.
steward-quit-title = De kiosk verlaten
steward-quit = DPS Kiosk afsluiten

training-banner = OEFENING — niets wordt geteld of verstuurd
training-cards = Voorbeeldbewoners
training-card = { $name } · { $birth } · { $postcode }
training-card-out = Kaart uitnemen

sync-error-not_enrolled = Nog niet met een server verbonden.
sync-error-config = De instellingen zijn fout: verbind opnieuw met een nieuwe code.
sync-error-unreachable = De server is onbereikbaar (geen verbinding?). De kiosk probeert het zelf opnieuw.
sync-error-timeout = De server antwoordde niet op tijd. De kiosk probeert het zelf opnieuw.
sync-error-refused = De server weigert dit toestel: vraag de coördinatie een nieuwe code.
sync-error-bad_code = Deze code is fout, al gebruikt of verlopen: vraag de coördinatie een nieuwe.
sync-error-forbidden_replica = De server zegt dat deze tellingen van een ander toestel zijn: vraag een nieuwe code.
sync-error-unsupported_version = De server spreekt een andere versie: deze kiosk moet bijgewerkt worden.
sync-error-rejected = De server weigerde de tellingen: verwittig de coördinatie.
sync-error-hub_failed = De server had een probleem. De kiosk probeert het zelf opnieuw.
sync-error-protocol = De server antwoordde iets wat deze kiosk niet begrijpt: verwittig de coördinatie.
sync-error-store = De kiosk kon zijn eigen tellingen niet lezen.

error-steward_locked = De begeleidersruimte is vergrendeld: geef de pincode.
error-pin_wrong = Verkeerde pincode. { $left ->
    [one] Nog 1 poging.
   *[other] Nog { $left } pogingen.
  }
error-pin_locked_out = Te veel verkeerde pincodes. Probeer opnieuw over { $minutes } minuten.
error-pin_mismatch = De twee pincodes zijn niet gelijk.
error-pin_format = Een pincode telt 4 tot 12 cijfers.
error-pin_already_set = Er is al een pincode ingesteld.
error-pin_not_set = Er is nog geen pincode ingesteld.
error-store_unavailable = De tellingen kunnen op deze kiosk niet geopend worden.
error-store_in_use = De tellingen zijn in een ander programma geopend.
error-store_failed = De tellingen konden niet bewaard worden. Controleer de vrije schijfruimte.
error-site_invalid = Kies een OCR, of geef de naam van een plek en de gemeente.
error-no_session = Er is geen sessie open.
error-session_open = Er is al een sessie open.
error-nothing_to_undo = Er is geen bezoek om te annuleren in deze sessie.
error-autostart_failed = Starten bij aanmelden kon niet gewijzigd worden.
error-enrol_device_active = Deze kiosk is nog actief op de server: de coördinatie moet hem eerst intrekken en u dan een nieuwe code geven.
error-enrol_bad_code = Deze code is fout, al gebruikt of verlopen: vraag de coördinatie een nieuwe.
error-enrol_unreachable = De server is onbereikbaar. Controleer het adres en de verbinding.
error-enrol_failed = Verbinden met de server mislukte. Controleer het adres en probeer opnieuw.

# Het synchronisatielabel in de statusbalk, als de laatste poging mislukte:
# kort, na de laatste geslaagde en de wachtende wijzigingen.
sync-short-not_enrolled = niet verbonden met een server
sync-short-config = instellingen fout: verbind opnieuw
sync-short-unreachable = server onbereikbaar, nieuwe poging
sync-short-timeout = server te traag, nieuwe poging
sync-short-refused = toestel geweigerd: vraag een nieuwe code
sync-short-bad_code = code geweigerd: vraag een nieuwe
sync-short-forbidden_replica = tellingen geweigerd: vraag een nieuwe code
sync-short-unsupported_version = de kiosk moet bijgewerkt worden
sync-short-rejected = tellingen geweigerd: verwittig de coördinatie
sync-short-hub_failed = serverprobleem, nieuwe poging
sync-short-protocol = antwoord van de server onbegrijpelijk: verwittig de coördinatie
sync-short-store = tellingen onleesbaar
status-sync-clock = klok { $minutes } min verschoven
status-notice = Bericht voor de begeleider

steward-notices-title = Over deze kiosk
notice-quarantined = Op { $when } waren de tellingen van deze kiosk beschadigd en konden ze niet gelezen worden. Ze werden opzijgezet in { $path }. { $resumed ->
    [yes] Het tellen gaat verder in dezelfde sessie, in een nieuw bestand.
   *[no] Het tellen gaat verder in een nieuw bestand zodra een sessie gestart is.
  } De pincode, de taal en de verbinding met de server blijven behouden; bezoeken die al naar de server gestuurd zijn, zijn daar veilig.
notice-settings_reset = Op { $when } konden de instellingen van deze kiosk niet gelezen worden. Ze werden opzijgezet in { $path }. De tellingen zijn onaangeroerd; de pincode werd opnieuw gekozen, en voor de verbinding met de server is een nieuwe code van de coördinatie nodig.
steward-notices-ack = Begrepen

steward-support-title = Hulp van de helpdesk
steward-support-intro = Steek een USB-stick in en schrijf dan het ondersteuningspakket: de logbestanden en de controles van de kiosk, zonder tellingen of persoonsgegevens.
steward-support-write = Het ondersteuningspakket op de USB-stick schrijven
steward-support-written = Het ondersteuningspakket werd geschreven naar { $path }.

outcome-appointment_booked = Afspraak gemaakt
outcome-waiting_list = Op de wachtlijst
outcome-waiting_list_closed = Wachtlijst gesloten
outcome-not_yet_eligible = Nog niet aan de beurt
outcome-referred = Doorverwezen
outcome-help_email = Hulp met e-mails
outcome-help_smartphone = Hulp met een smartphone
outcome-help_login = Hulp bij het aanmelden
outcome-help_forms = Hulp met een formulier
outcome-help_other = Andere hulp

error-store_damaged = De tellingen zijn beschadigd. Start de kiosk opnieuw: hij zet ze opzij en telt verder in een nieuw bestand; de pincode en de verbinding met de server blijven behouden.
error-bundle_no_stick = Er werd geen USB-stick gevonden. Steek er een in, wacht enkele seconden en probeer opnieuw.
error-bundle_failed = Het ondersteuningspakket kon niet op de stick geschreven worden. Probeer een andere stick.
