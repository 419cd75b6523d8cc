# Le côté animateur de la fenêtre : barre d'état, premier démarrage, espace
# animateur, mode formation. Dans la langue de l'animateur.

status-session = Session : { $site } · { $visits ->
    [one] { $visits } visite
   *[other] { $visits } visites
  }
status-counting-counting = Les visites sont comptées.
status-counting-no_session = Aucune session ouverte : les visites ne sont pas comptées.
status-counting-store_unavailable = Les comptages ne peuvent pas être ouverts : les visites ne sont pas comptées.
status-sync-ok = Synchronisé { $time } · { $pending } en attente
status-sync-never = Pas encore synchronisé · { $pending } en attente
status-sync-error = Problème de synchronisation · { $pending } en attente
steward-open = Animateur

setup-title = Installer ce kiosque
setup-intro = Choisissez votre langue et un code PIN (4 à 12 chiffres). Le PIN protège l'espace animateur : sessions, comptages et sortie du kiosque.
setup-pin = Nouveau PIN
setup-pin-again = Le même PIN encore une fois
setup-continue = Continuer

steward-title = Espace animateur
steward-close = Fermer
steward-pin = PIN
steward-unlock = Ouvrir
steward-language = Langue de l'espace animateur
steward-session = Session de permanence
steward-session-at = À { $site }, depuis { $since }.
steward-visits = { $visits } visites comptées, { $undone } annulées.
steward-procedure = Démarche
steward-outcome = Résultat
steward-count = Visites
steward-undone = La visite { $n } a été annulée.
steward-undo = Annuler la dernière visite
steward-end = Terminer la session
steward-where = Où êtes-vous aujourd'hui ?
steward-certified = Un EPN labellisé
steward-popup = Un lieu temporaire
steward-site = EPN
steward-place = Lieu (p. ex. marché du dimanche)
steward-municipality = Commune
steward-start = Ouvrir la session
steward-last-session = Dernière session : { $site }, terminée { $ended }
steward-today = Aujourd'hui
steward-sync = Envoi des comptages à la coordination
steward-sync-hub = Serveur : { $hub } (lieu { $site })
steward-sync-last = Dernier envoi : { $when } · { $pending } changements en attente
steward-clock-skew = L'horloge de cet ordinateur a { $minutes } minutes d'écart. Réglez l'heure.
steward-sync-now = Envoyer maintenant
steward-sync-started = Envoi lancé.
steward-sync-not-enrolled = Ce kiosque n'est pas encore relié à un serveur. Entrez l'adresse du serveur et le code reçu de la coordination.
steward-sync-reenrol = Pour relier à nouveau ce kiosque (ses comptages restent les siens), entrez le nouveau code de la coordination.
steward-hub = Adresse du serveur
steward-code = Code
steward-enrol = Relier
steward-enrolled = Relié au serveur.
steward-settings = Réglages
steward-training = Mode formation
steward-autostart = Démarrer à l'ouverture de session
steward-change-pin = Changer le PIN
steward-pin-current = PIN actuel
steward-pin-changed = Le PIN a été changé.
steward-quit-title = Quitter le kiosque
steward-quit = Quitter DPS Kiosk

training-banner = FORMATION — rien n'est compté ni envoyé
training-cards = Résidents d'exemple
training-card = { $name } · { $birth } · { $postcode }
training-card-out = Retirer la carte

sync-error-not_enrolled = Pas encore relié à un serveur.
sync-error-config = Les réglages d'envoi sont faux : reliez à nouveau avec un nouveau code.
sync-error-unreachable = Le serveur est injoignable (pas de connexion ?). Le kiosque réessaie tout seul.
sync-error-timeout = Le serveur n'a pas répondu à temps. Le kiosque réessaie tout seul.
sync-error-refused = Le serveur refuse cet appareil : demandez un nouveau code à la coordination.
sync-error-bad_code = Ce code est faux, déjà utilisé ou expiré : demandez-en un nouveau à la coordination.
sync-error-forbidden_replica = Le serveur dit que ces comptages appartiennent à un autre appareil : demandez un nouveau code.
sync-error-unsupported_version = Le serveur parle une autre version : ce kiosque doit être mis à jour.
sync-error-rejected = Le serveur a refusé les comptages : prévenez la coordination.
sync-error-hub_failed = Le serveur a eu un problème. Le kiosque réessaie tout seul.
sync-error-protocol = Le serveur a répondu quelque chose que ce kiosque ne comprend pas : prévenez la coordination.
sync-error-store = Le kiosque n'a pas pu lire ses propres comptages.

error-steward_locked = L'espace animateur est verrouillé : entrez le PIN.
error-pin_wrong = PIN incorrect. { $left ->
    [one] Encore { $left } essai.
   *[other] Encore { $left } essais.
  }
error-pin_locked_out = Trop de PIN incorrects. Réessayez dans { $minutes } minutes.
error-pin_mismatch = Les deux PIN ne sont pas identiques.
error-pin_format = Un PIN compte de 4 à 12 chiffres.
error-pin_already_set = Un PIN est déjà défini.
error-pin_not_set = Aucun PIN n'est encore défini.
error-store_unavailable = Les comptages ne peuvent pas être ouverts sur ce kiosque.
error-store_in_use = Les comptages sont ouverts dans un autre programme.
error-store_failed = Les comptages n'ont pas pu être enregistrés. Vérifiez l'espace disque libre.
error-site_invalid = Choisissez un EPN, ou donnez le nom d'un lieu et sa commune.
error-no_session = Aucune session n'est ouverte.
error-session_open = Une session est déjà ouverte.
error-nothing_to_undo = Il n'y a pas de visite à annuler dans cette session.
error-autostart_failed = Le démarrage automatique n'a pas pu être modifié.
error-enrol_device_active = Ce kiosque est encore actif sur le serveur : la coordination doit d'abord le révoquer, puis vous donner un nouveau code.
error-enrol_bad_code = Ce code est faux, déjà utilisé ou expiré : demandez-en un nouveau à la coordination.
error-enrol_unreachable = Le serveur est injoignable. Vérifiez l'adresse et la connexion.
error-enrol_failed = La liaison au serveur a échoué. Vérifiez l'adresse et réessayez.

# La pastille de synchronisation de la barre d'état, quand le dernier essai a
# échoué : court, après la dernière réussite et les changements en attente.
sync-short-not_enrolled = pas connecté à un serveur
sync-short-config = réglages erronés : reconnectez
sync-short-unreachable = serveur injoignable, nouvel essai
sync-short-timeout = serveur trop lent, nouvel essai
sync-short-refused = appareil refusé : demandez un nouveau code
sync-short-bad_code = code refusé : demandez-en un nouveau
sync-short-forbidden_replica = comptages refusés : demandez un nouveau code
sync-short-unsupported_version = le kiosque doit être mis à jour
sync-short-rejected = comptages rejetés : prévenez la coordination
sync-short-hub_failed = problème du serveur, nouvel essai
sync-short-protocol = réponse du serveur incomprise : prévenez la coordination
sync-short-store = comptages illisibles
status-sync-clock = horloge décalée de { $minutes } min
status-notice = Message pour l'animateur

steward-notices-title = À propos de ce kiosque
notice-quarantined = Le { $when }, les comptages de ce kiosque étaient endommagés et n'ont pas pu être lus. Ils ont été mis de côté dans { $path }. { $resumed ->
    [yes] Le comptage continue dans la même session, dans un nouveau fichier.
   *[no] Le comptage continue dans un nouveau fichier dès qu'une session est ouverte.
  } Le PIN, la langue et la connexion au serveur sont conservés ; les visites déjà envoyées au serveur y sont en sécurité.
notice-settings_reset = Le { $when }, les réglages de ce kiosque n'ont pas pu être lus. Ils ont été mis de côté dans { $path }. Les comptages sont intacts ; le PIN a été choisi à nouveau, et la connexion au serveur demande un nouveau code de la coordination.
steward-notices-ack = J'ai compris

steward-support-title = Aide du service d'assistance
steward-support-intro = Branchez une clé USB, puis écrivez le dossier d'assistance : les journaux et les vérifications du kiosque, sans comptages ni données personnelles.
steward-support-write = Écrire le dossier d'assistance sur la clé USB
steward-support-written = Le dossier d'assistance a été écrit dans { $path }.

outcome-appointment_booked = Rendez-vous pris
outcome-waiting_list = Sur la liste d'attente
outcome-waiting_list_closed = Liste d'attente fermée
outcome-not_yet_eligible = Pas encore éligible
outcome-referred = Orienté ailleurs
outcome-help_email = Aide pour les e-mails
outcome-help_smartphone = Aide pour le smartphone
outcome-help_login = Aide pour se connecter
outcome-help_forms = Aide pour un formulaire
outcome-help_other = Autre aide

error-store_damaged = Les comptages sont endommagés. Redémarrez le kiosque : il les met de côté et continue de compter dans un nouveau fichier ; le PIN et la connexion au serveur sont conservés.
error-bundle_no_stick = Aucune clé USB n'a été trouvée. Branchez-en une, attendez quelques secondes et réessayez.
error-bundle_failed = Le dossier d'assistance n'a pas pu être écrit sur la clé. Essayez une autre clé.
