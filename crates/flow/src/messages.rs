//! The engine's own words: input errors, in the four languages. Written for
//! a steward typing from a paper document, with the resident beside them.

use dps_model::Language;

use crate::view::ErrorCode;

/// The message for `code`; `found` is the number of digits typed, for
/// [`ErrorCode::NumberLength`].
pub(crate) fn error(code: ErrorCode, lang: Language, found: usize) -> String {
    use ErrorCode::*;
    use Language::*;
    match (code, lang) {
        (NumberLength, Fr) => format!("Le numéro de registre national a 11 chiffres. Vous en avez tapé {found}. Vérifiez sur la carte."),
        (NumberLength, Nl) => format!("Het rijksregisternummer heeft 11 cijfers. U typte er {found}. Kijk het na op de kaart."),
        (NumberLength, En) => format!("The national register number has 11 digits. You typed {found}. Please check the card."),
        (NumberLength, De) => format!("Die Nationalregisternummer hat 11 Ziffern. Sie haben {found} eingegeben. Bitte auf der Karte prüfen."),
        (NumberNotDigits, Fr) => "Tapez seulement des chiffres (les points et tirets sont permis).".to_owned(),
        (NumberNotDigits, Nl) => "Typ alleen cijfers (punten en streepjes mogen).".to_owned(),
        (NumberNotDigits, En) => "Type digits only (dots and dashes are allowed).".to_owned(),
        (NumberNotDigits, De) => "Bitte nur Ziffern eingeben (Punkte und Striche sind erlaubt).".to_owned(),
        (NumberCheckDigits, Fr) => "Ce numéro n'existe pas : un chiffre est sans doute mal tapé. Relisez-le chiffre par chiffre.".to_owned(),
        (NumberCheckDigits, Nl) => "Dit nummer bestaat niet: er is wellicht een cijfer verkeerd getypt. Lees het cijfer per cijfer na.".to_owned(),
        (NumberCheckDigits, En) => "This number does not exist: a digit was probably mistyped. Read it again digit by digit.".to_owned(),
        (NumberCheckDigits, De) => "Diese Nummer gibt es nicht: wahrscheinlich ist eine Ziffer falsch. Bitte Ziffer für Ziffer prüfen.".to_owned(),
        (NumberImpossibleDate, Fr) => "Les 6 premiers chiffres (la date de naissance) ne sont pas possibles : un chiffre est sans doute mal tapé.".to_owned(),
        (NumberImpossibleDate, Nl) => "De eerste 6 cijfers (de geboortedatum) kloppen niet: er is wellicht een cijfer verkeerd getypt.".to_owned(),
        (NumberImpossibleDate, En) => "The first 6 digits (the birth date) are not possible: a digit was probably mistyped.".to_owned(),
        (NumberImpossibleDate, De) => "Die ersten 6 Ziffern (das Geburtsdatum) sind nicht möglich: wahrscheinlich ist eine Ziffer falsch.".to_owned(),
        (PostcodeFormat, Fr) => "Le code postal a 4 chiffres, par exemple 1030.".to_owned(),
        (PostcodeFormat, Nl) => "De postcode heeft 4 cijfers, bijvoorbeeld 1030.".to_owned(),
        (PostcodeFormat, En) => "The postcode has 4 digits, for example 1030.".to_owned(),
        (PostcodeFormat, De) => "Die Postleitzahl hat 4 Ziffern, zum Beispiel 1030.".to_owned(),
        (CardNoNumber, Fr) => "La carte ne donne pas de numéro de registre national lisible. Tapez-le à la main.".to_owned(),
        (CardNoNumber, Nl) => "De kaart geeft geen leesbaar rijksregisternummer. Typ het met de hand.".to_owned(),
        (CardNoNumber, En) => "The card gives no readable national register number. Type it in by hand.".to_owned(),
        (CardNoNumber, De) => "Die Karte liefert keine lesbare Nationalregisternummer. Bitte von Hand eingeben.".to_owned(),
        (CardNoPostcode, Fr) => "La carte ne donne pas d'adresse. Tapez le code postal à la main.".to_owned(),
        (CardNoPostcode, Nl) => "De kaart geeft geen adres. Typ de postcode met de hand.".to_owned(),
        (CardNoPostcode, En) => "The card gives no address. Type the postcode in by hand.".to_owned(),
        (CardNoPostcode, De) => "Die Karte liefert keine Adresse. Bitte die Postleitzahl von Hand eingeben.".to_owned(),
    }
}
