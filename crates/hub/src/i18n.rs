//! The dashboard's and report's words in French, Dutch and English. Few
//! enough to live in one table; the language is chosen by the `lang` URL
//! parameter, so a shared link shows the same language.

use dps_model::{Municipality, Residence};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    Nl,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Fr, Lang::Nl, Lang::En];

    pub fn parse(s: Option<&str>) -> Lang {
        match s {
            Some("nl") => Lang::Nl,
            Some("en") => Lang::En,
            _ => Lang::Fr,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The language named in itself, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::Nl => "Nederlands",
            Lang::En => "English",
        }
    }

    /// The text of `key` (the key itself if unknown, so a gap shows).
    pub fn t(self, key: &'static str) -> &'static str {
        let Some((fr, nl, en)) = TEXTS
            .iter()
            .find(|(k, ..)| *k == key)
            .map(|(_, f, n, e)| (*f, *n, *e))
        else {
            return key;
        };
        match self {
            Lang::Fr => fr,
            Lang::Nl => nl,
            Lang::En => en,
        }
    }

    /// A row label of a table column, readable.
    pub fn label(self, dim: dps_report::Dimension, code: &str) -> String {
        use dps_report::Dimension as D;
        match dim {
            D::Municipality => match code.parse::<Residence>() {
                Ok(Residence::Brussels(m)) => self.municipality(m).to_owned(),
                Ok(Residence::OtherBelgium) => self.t("res-other-be").to_owned(),
                Ok(Residence::Abroad) => self.t("res-abroad").to_owned(),
                Ok(Residence::Unknown) => self.t("unknown").to_owned(),
                Err(_) => code.to_owned(),
            },
            D::AgeBand => match code {
                "under_18" => "< 18".into(),
                "75_plus" => "75+".into(),
                "unknown" => self.t("unknown").into(),
                c => c.replace('_', "–"),
            },
            D::Language => match code {
                "fr" => "Français".into(),
                "nl" => "Nederlands".into(),
                "en" => "English".into(),
                "de" => "Deutsch".into(),
                c => c.into(),
            },
            D::Channel => match code {
                "eid" => self.t("ch-eid").into(),
                "manual" => self.t("ch-manual").into(),
                "none" => self.t("ch-none").into(),
                c => c.into(),
            },
            D::Outcome | D::Procedure => code.replace(['_', '-'], " "),
            _ => code.to_owned(),
        }
    }

    pub fn municipality(self, m: Municipality) -> &'static str {
        match self {
            Lang::Nl => m.name_nl(),
            _ => m.name_fr(),
        }
    }
}

/// (key, fr, nl, en)
const TEXTS: &[(&str, &str, &str, &str)] = &[
    ("hub", "Hub de coordination DPS", "DPS-coördinatiehub", "DPS coordination hub"),
    ("dashboard", "Tableau de bord des visites", "Dashboard van de bezoeken", "Visits dashboard"),
    ("login-title", "Connexion de la coordination", "Aanmelden coördinatie", "Coordination login"),
    ("name", "Nom du compte", "Accountnaam", "Account name"),
    ("password", "Mot de passe", "Wachtwoord", "Password"),
    ("login", "Se connecter", "Aanmelden", "Log in"),
    ("logout", "Se déconnecter", "Afmelden", "Log out"),
    ("login-wrong", "Nom ou mot de passe incorrect.", "Verkeerde naam of wachtwoord.", "Wrong name or password."),
    ("login-locked", "Trop d’essais manqués : ce compte est bloqué 15 minutes.", "Te veel mislukte pogingen: dit account is 15 minuten geblokkeerd.", "Too many failed attempts: this account is locked for 15 minutes."),
    ("login-expired", "Le formulaire a expiré : veuillez réessayer.", "Het formulier is verlopen: probeer opnieuw.", "The form expired: please try again."),
    ("filters", "Filtres", "Filters", "Filters"),
    ("from", "Du", "Van", "From"),
    ("to", "Au", "Tot", "To"),
    ("site", "Lieu (EPN)", "Locatie (DOR)", "Site (DPS)"),
    ("municipality", "Commune de résidence", "Woongemeente", "Municipality of residence"),
    ("procedure", "Démarche", "Procedure", "Procedure"),
    ("outcome", "Résultat", "Resultaat", "Outcome"),
    ("age_band", "Tranche d’âge", "Leeftijdsgroep", "Age band"),
    ("language", "Langue", "Taal", "Language"),
    ("channel", "Identification", "Identificatie", "Identification"),
    ("week", "Semaine", "Week", "Week"),
    ("month", "Mois", "Maand", "Month"),
    ("visits", "Visites", "Bezoeken", "Visits"),
    ("all", "Tous", "Alle", "All"),
    ("apply", "Appliquer", "Toepassen", "Apply"),
    ("total", "Total des visites", "Totaal bezoeken", "Total visits"),
    ("per-week", "Visites par semaine", "Bezoeken per week", "Visits per week"),
    ("by-municipality", "Par commune de résidence", "Per woongemeente", "By municipality of residence"),
    ("priority-note", "★ = une des six communes prioritaires (Saint-Josse, Saint-Gilles, Bruxelles, Schaerbeek, Molenbeek, Koekelberg), en rouge.", "★ = een van de zes prioritaire gemeenten (Sint-Joost, Sint-Gillis, Brussel, Schaarbeek, Molenbeek, Koekelberg), in het rood.", "★ = one of the six priority municipalities (Saint-Josse, Saint-Gilles, Brussels, Schaerbeek, Molenbeek, Koekelberg), in red."),
    ("by-site", "Par lieu", "Per locatie", "By site"),
    ("by-procedure", "Par démarche", "Per procedure", "By procedure"),
    ("by-outcome", "Par résultat", "Per resultaat", "By outcome"),
    ("by-age", "Par tranche d’âge", "Per leeftijdsgroep", "By age band"),
    ("by-language", "Par langue", "Per taal", "By language"),
    ("by-channel", "Par identification", "Per identificatie", "By identification"),
    ("by-month", "Par mois", "Per maand", "By month"),
    ("devices", "Appareils", "Toestellen", "Devices"),
    ("device", "Appareil", "Toestel", "Device"),
    ("last-sync", "Dernière synchro", "Laatste synchronisatie", "Last sync"),
    ("skew", "Décalage d’horloge (s)", "Klokafwijking (s)", "Clock skew (s)"),
    ("pending", "En attente", "Wachtend", "Pending"),
    ("state", "État", "Status", "State"),
    ("never", "jamais", "nooit", "never"),
    ("active", "actif", "actief", "active"),
    ("revoked", "révoqué", "ingetrokken", "revoked"),
    ("skew-warn", "horloge décalée", "klok wijkt af", "clock off"),
    ("no-data", "Aucune visite pour ces filtres.", "Geen bezoeken voor deze filters.", "No visits for these filters."),
    ("exports", "Exports", "Exports", "Exports"),
    ("csv-exact", "CSV exact", "CSV exact", "Exact CSV"),
    ("xlsx-exact", "XLSX exact", "XLSX exact", "Exact XLSX"),
    ("csv-public", "CSV public (petits nombres masqués)", "Publieke CSV (kleine aantallen verborgen)", "Public CSV (small counts hidden)"),
    ("exact-note", "Chiffres exacts : réservés à la coordination, ne pas publier.", "Exacte cijfers: enkel voor de coördinatie, niet publiceren.", "Exact figures: for the coordination only, do not publish."),
    ("reports", "Rapports annuels", "Jaarverslagen", "Annual reports"),
    ("report-title", "Rapport annuel", "Jaarverslag", "Annual report"),
    ("report-public-note", "Chiffres publiables : les nombres de 1 à 9 sont affichés « <10 », et « x » masque un nombre qui permettrait de les retrouver.", "Publiceerbare cijfers: aantallen van 1 tot 9 staan als ‘<10’, en ‘x’ verbergt een aantal waaruit ze af te leiden zouden zijn.", "Publishable figures: counts from 1 to 9 are shown as “<10”, and “x” hides a count from which they could be worked out."),
    ("print-hint", "Pour un PDF : imprimez cette page (Ctrl+P) et choisissez « Enregistrer en PDF ».", "Voor een pdf: druk deze pagina af (Ctrl+P) en kies ‘Opslaan als pdf’.", "For a PDF: print this page (Ctrl+P) and choose “Save as PDF”."),
    ("back", "Retour au tableau de bord", "Terug naar het dashboard", "Back to the dashboard"),
    ("year", "Année", "Jaar", "Year"),
    ("unknown", "inconnu", "onbekend", "unknown"),
    ("res-other-be", "ailleurs en Belgique", "elders in België", "elsewhere in Belgium"),
    ("res-abroad", "étranger", "buitenland", "abroad"),
    ("ch-eid", "carte eID", "eID-kaart", "eID card"),
    ("ch-manual", "numéro tapé", "nummer getypt", "number typed"),
    ("ch-none", "sans identification", "zonder identificatie", "no identification"),
    ("table", "Tableau", "Tabel", "Table"),
    ("signed-in-as", "Connecté :", "Aangemeld:", "Signed in:"),
    ("language-switch", "Langue", "Taal", "Language"),
];
