//! Every shipped flow's main paths, as transcripts.
use expect_test::expect;

use crate::harness::{run, shipped};

#[test]
fn bruvax_card_born_in_an_appointment_year() {
    let f = shipped("bruvax-registration");
    expect![[r#"
        [1/12] identify identify "Votre carte d'identité" pict=id-card
        > card 85073003328 1985-07-30 1030
        [2/10] check open-site "Vous pouvez prendre rendez-vous" pict=computer back undo
        > tick
        [3/10] check type-number "Tapez le numéro de registre national" pict=keyboard number=85.07.30-033.28 back undo
        > tick
        [4/10] check type-postcode "Tapez le code postal" pict=house postcode=1030 back undo
        > tick
        [5/10] check choose-centre "Choisissez un centre de vaccination" pict=hospital back undo
        > tick
        [6/10] check choose-slot "Choisissez le jour et l'heure" pict=calendar back undo
        > tick
        [7/10] choice confirmation "Comment recevoir la confirmation ?" pict=sms back undo
            options: sms, email
        > choose sms
        [8/10] check confirm-sms "Tapez le numéro de téléphone" pict=sms back undo
        > tick
        [9/10] choice booked-check "Le site a-t-il confirmé le rendez-vous ?" pict=question back undo
            options: yes, no
        > choose yes
        [10/10] end booked "Votre rendez-vous est pris" pict=check back undo outcome=appointment_booked
        > finish
        = visit bruvax-registration appointment_booked fr eid 30_44 schaerbeek
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        card 85073003328 1985-07-30 1030
        tick
        tick
        tick
        tick
        tick
        choose sms
        tick
        choose yes
        finish
    "));
}

#[test]
fn bruvax_card_born_in_a_waiting_list_year_in_dutch() {
    let f = shipped("bruvax-registration");
    expect![[r#"
        [1/12] identify identify "Uw identiteitskaart" pict=id-card
        > card 95041200509 1995-04-12 1080
        [2/4] check waiting-list-site "U kunt zich op de wachtlijst zetten" pict=list back undo
        > tick
        [3/4] check waiting-list-number "Typ het nummer en de postcode" pict=keyboard number=95.04.12-005.09 postcode=1080 back undo
        > tick
        [4/4] end on-waiting-list "U staat op de wachtlijst" pict=list back undo outcome=waiting_list
        > pulled
        = visit bruvax-registration waiting_list nl eid 18_29 molenbeek-saint-jean
    "#]].assert_eq(&run(&f, "nl", "2021-06-01", "
        card 95041200509 1995-04-12 1080
        tick
        tick
        pulled
    "));
}

#[test]
fn bruvax_card_not_yet_eligible_in_german() {
    let f = shipped("bruvax-registration");
    expect![[r#"
        [1/12] identify identify "Ihr Personalausweis" pict=id-card
        > card 05061200703 2005-06-12 1210
        [2/2] end not-yet "Sie sind noch nicht an der Reihe" pict=clock back undo outcome=not_yet_eligible
        > finish
        = visit bruvax-registration not_yet_eligible de eid under_18 saint-josse-ten-noode
    "#]].assert_eq(&run(&f, "de", "2021-06-01", "
        card 05061200703 2005-06-12 1210
        finish
    "));
}

#[test]
fn bruvax_manual_entry_with_a_typo_then_the_right_number() {
    let f = shipped("bruvax-registration");
    expect![[r#"
        [1/12] identify identify "Your identity card" pict=id-card
        > manual 85.07.30-033.27 1030
        [1/12] identify identify "Your identity card" pict=id-card
            error number_check_digits: This number does not exist: a digit was probably mistyped. Read it again digit by digit.
        > manual 8507300332 1030
        [1/12] identify identify "Your identity card" pict=id-card
            error number_length: The national register number has 11 digits. You typed 10. Please check the card.
        > manual 85.07.30-033.28 10300
        [1/12] identify identify "Your identity card" pict=id-card
            error postcode_format: The postcode has 4 digits, for example 1030.
        > manual 85.07.30-033.28 1030
        [2/12] check read-back "Read the number back to the person" pict=steward number=85.07.30-033.28 back undo
        > tick
        [3/11] check open-site "You can book an appointment" pict=computer back undo
        > tick
        [4/11] check type-number "Type the national register number" pict=keyboard number=85.07.30-033.28 back undo
        > tick
        [5/11] check type-postcode "Type the postcode" pict=house postcode=1030 back undo
        > tick
        [6/11] check choose-centre "Choose a vaccination centre" pict=hospital back undo
        > tick
        [7/11] check choose-slot "Choose the day and the time" pict=calendar back undo
        > tick
        [8/11] choice confirmation "How do you want the confirmation?" pict=sms back undo
            options: sms, email
        > choose email
        [9/11] check confirm-email "Type the e-mail address" pict=email back undo
        > tick
        [10/11] choice booked-check "Did the site confirm the appointment?" pict=question back undo
            options: yes, no
        > choose no
        [11/11] end referred "Call the vaccination call centre" pict=phone back undo outcome=referred
        > idle
        = visit bruvax-registration referred en manual 30_44 schaerbeek
    "#]].assert_eq(&run(&f, "en", "2021-06-10", "
        manual 85.07.30-033.27 1030
        manual 8507300332 1030
        manual 85.07.30-033.28 10300
        manual 85.07.30-033.28 1030
        tick
        tick
        tick
        tick
        tick
        tick
        choose email
        tick
        choose no
        idle
    "));
}

#[test]
fn bruvax_phases_follow_the_date_of_the_visit() {
    let f = shipped("bruvax-registration");
    // The same resident (born 1980) on three days: waiting list in phase 1,
    // an appointment from phase 2; before any phase, not yet.
    let mut out = String::new();
    for today in ["2021-05-01", "2021-05-10", "2021-05-28"] {
        out += &format!("{today}: ");
        out += run(&f, "fr", today, "card 80010100008 1980-01-01 1000")
            .lines()
            .nth(2)
            .unwrap_or("");
        out += "\n";
    }
    expect![[r#"
        2021-05-01: [2/2] end not-yet "Ce n'est pas encore votre tour" pict=clock back undo outcome=not_yet_eligible
        2021-05-10: [2/4] check waiting-list-site "Vous pouvez vous inscrire sur la liste d'attente" pict=list back undo
        2021-05-28: [2/10] check open-site "Vous pouvez prendre rendez-vous" pict=computer back undo
    "#]].assert_eq(&out);
}

#[test]
fn bruvax_partial_and_missing_birth_dates() {
    let f = shipped("bruvax-registration");
    // Year only, as some cards write it: 1986 is decided (on or before
    // 31 December 1986) without guessing a day.
    expect![[r#"
        [1/12] identify identify "Votre carte d'identité" pict=id-card
        > card 86000000060 1986 1060
        [2/10] check open-site "Vous pouvez prendre rendez-vous" pict=computer back undo
        > back
        [1/12] identify identify "Votre carte d'identité" pict=id-card
        (journey still open)
    "#]]
    .assert_eq(&run(
        &f,
        "fr",
        "2021-05-28",
        "
        card 86000000060 1986 1060
        back
    ",
    ));
    // No usable birth date at all (number 000001…): the steward asks.
    expect![[r#"
        [1/12] identify identify "Votre carte d'identité" pict=id-card
        > card 00000100166 - 1060
        [2/11] choice ask-age "Demandez l'année de naissance" pict=question back undo
            options: can-book, waiting-list, not-yet
        > choose waiting-list
        [3/5] check waiting-list-site "Vous pouvez vous inscrire sur la liste d'attente" pict=list back undo
        > tick
        [4/5] check waiting-list-number "Tapez le numéro et le code postal" pict=keyboard number=00.00.01-001.66 postcode=1060 back undo
        > tick
        [5/5] end on-waiting-list "Vous êtes sur la liste d'attente" pict=list back undo outcome=waiting_list
        > finish
        = visit bruvax-registration waiting_list fr eid unknown saint-gilles
    "#]].assert_eq(&run(&f, "fr", "2021-05-28", "
        card 00000100166 - 1060
        choose waiting-list
        tick
        tick
        finish
    "));
}

#[test]
fn bruvax_outside_brussels_is_referred() {
    let f = shipped("bruvax-registration");
    expect![[r#"
        [1/12] identify identify "Votre carte d'identité" pict=id-card
        > card 85073003328 1985-07-30 9000
        [2/2] end not-brussels "BRUVAX est pour les Bruxellois" pict=map-pin back undo outcome=referred
        > finish
        = visit bruvax-registration referred fr eid 30_44 other_be
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        card 85073003328 1985-07-30 9000
        finish
    "));
}

#[test]
fn waiting_list_paths() {
    let f = shipped("bruvax-waiting-list");
    expect![[r#"
        [1/4] identify identify "Votre carte d'identité" pict=id-card
        > card 85073003328 1985-07-30 1030
        [2/3] check join "Inscrivez la personne sur la liste" pict=keyboard number=85.07.30-033.28 postcode=1030 back undo
        > tick
        [3/3] end on-list "Vous êtes sur la liste d'attente" pict=check back undo outcome=waiting_list
        > finish
        = visit bruvax-waiting-list waiting_list fr eid 30_44 schaerbeek
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        card 85073003328 1985-07-30 1030
        tick
        finish
    "));
    expect![[r#"
        [1/4] identify identify "Uw identiteitskaart" pict=id-card
        > card 85073003328 1985-07-30 1030
        [2/2] end list-closed "De wachtlijst is gesloten" pict=stop back undo outcome=waiting_list_closed
        > finish
        = visit bruvax-waiting-list waiting_list_closed nl eid 30_44 schaerbeek
    "#]].assert_eq(&run(&f, "nl", "2021-07-01", "
        card 85073003328 1985-07-30 1030
        finish
    "));
    // Birthday today: 18 today is old enough.
    expect![[r#"
        [1/4] identify identify "Your identity card" pict=id-card
        > card 03061200065 2003-06-12 1081
        [2/3] check join "Put the person on the list" pict=keyboard number=03.06.12-000.65 postcode=1081 back undo
        > tick
        [3/3] end on-list "You are on the waiting list" pict=check back undo outcome=waiting_list
        > finish
        = visit bruvax-waiting-list waiting_list en eid 18_29 koekelberg
    "#]].assert_eq(&run(&f, "en", "2021-06-12", "
        card 03061200065 2003-06-12 1081
        tick
        finish
    "));
    expect![[r#"
        [1/4] identify identify "Ihr Personalausweis" pict=id-card
        > card 03061200065 2003-06-12 1081
        [2/2] end not-yet "Das ist noch nicht möglich" pict=clock back undo outcome=not_yet_eligible
        > finish
        = visit bruvax-waiting-list not_yet_eligible de eid under_18 koekelberg
    "#]]
    .assert_eq(&run(
        &f,
        "de",
        "2021-06-11",
        "
        card 03061200065 2003-06-12 1081
        finish
    ",
    ));
    expect![[r#"
        [1/4] identify identify "Votre carte d'identité" pict=id-card
        > card 00000100166 - 1210
        [2/4] choice ask-age "La personne a-t-elle 18 ans ou plus ?" pict=question back undo
            options: adult, minor
        > choose adult
        [3/4] check join "Inscrivez la personne sur la liste" pict=keyboard number=00.00.01-001.66 postcode=1210 back undo
        > tick
        [4/4] end on-list "Vous êtes sur la liste d'attente" pict=check back undo outcome=waiting_list
        > finish
        = visit bruvax-waiting-list waiting_list fr eid unknown saint-josse-ten-noode
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        card 00000100166 - 1210
        choose adult
        tick
        finish
    "));
}

#[test]
fn find_a_dps_near_me() {
    let f = shipped("find-dps");
    expect![[r#"
        [1/3] identify postcode "Où habitez-vous ?" pict=house
        > card - - 1210
        [2/2] end list "Les EPN près de chez vous" pict=map-pin back undo outcome=referred
            nearby: sapiens:own, arc:neighbouring, riches-claires:neighbouring, bravvo:neighbouring, mobile-dps:neighbouring, laeken-library:neighbouring, de-schakel:neighbouring, dps1030:neighbouring, cyberogier:neighbouring
        > finish
        = visit find-dps referred fr eid unknown saint-josse-ten-noode
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        card - - 1210
        finish
    "));
    expect![[r#"
        [1/3] identify postcode "Waar woont u?" pict=house
        > manual - 1160
        [2/2] end list "De OCR's bij u in de buurt" pict=map-pin back undo outcome=referred
            nearby: ixelles-library:neighbouring, watermael-boitsfort:neighbouring
        > pulled
        = visit find-dps referred nl manual unknown auderghem
    "#]]
    .assert_eq(&run(
        &f,
        "nl",
        "2021-06-01",
        "
        manual - 1160
        pulled
    ",
    ));
    expect![[r#"
        [1/3] identify postcode "Where do you live?" pict=house
        > manual - 123
        [1/3] identify postcode "Where do you live?" pict=house
            error postcode_format: The postcode has 4 digits, for example 1030.
        > manual - 9000
        [2/3] info outside "You live outside Brussels" pict=map-pin back undo
        > next
        [3/3] end list "Digital Public Spaces near you" pict=map-pin back undo outcome=referred
            nearby: arc:other, riches-claires:other, bravvo:other, mobile-dps:other, laeken-library:other, de-schakel:other, dps1030:other, cyberogier:other, ixelles-library:other, atelier-du-web:other, open-atelier-110-anderlecht:other, scheut:other, goujons:other, neve-andertech:other, open-atelier-110-molenbeek:other, study-kids-support:other, koekeltech:other, ganshoren:other, bibliojette:other, entrela:other, forest-quartier-sante:other, uccle:other, phare:other, wolu-cyber-cite:other, sapiens:other, watermael-boitsfort:other
        > finish
        = visit find-dps referred en manual unknown other_be
    "#]].assert_eq(&run(&f, "en", "2021-06-01", "
        manual - 123
        manual - 9000
        next
        finish
    "));
}

#[test]
fn other_digital_help() {
    let f = shipped("other-help");
    expect![[r#"
        [1/2] choice topic "Wobei brauchen Sie Hilfe?" pict=help
            options: email, smartphone, login, forms, other
        > choose login
        [2/2] end help-login "Der Betreuer hilft Ihnen beim Anmelden" pict=steward back undo outcome=help_login
        > finish
        = visit other-help help_login de none unknown unknown
    "#]].assert_eq(&run(&f, "de", "2021-06-01", "
        choose login
        finish
    "));
    // Walking away before choosing anything is not a visit.
    expect![[r#"
        [1/2] choice topic "Pour quoi avez-vous besoin d'aide ?" pict=help
            options: email, smartphone, login, forms, other
        > quit
        = ended, nothing counted
    "#]]
    .assert_eq(&run(&f, "fr", "2021-06-01", "quit"));
}

#[test]
fn the_procedure_choice_screen_in_each_language() {
    let assets = crate::harness::assets();
    let loaded = dps_flow::load_dir(&assets.join("flows"), &assets.join("pictograms"));
    let mut out = String::new();
    for lang in dps_model::Language::ALL {
        for p in dps_flow::ProcedureView::list(&loaded.flows, lang) {
            out += &format!(
                "{lang} {} [{}] {} — {}\n",
                p.id, p.pictogram, p.title, p.summary
            );
        }
    }
    expect![[r#"
        fr bruvax-registration [syringe] Prendre rendez-vous pour le vaccin — Inscription sur BRUVAX avec votre carte d'identité
        fr bruvax-waiting-list [list] Liste d'attente pour le vaccin — Être prévenu dès qu'une place se libère
        fr find-dps [map-pin] Trouver un EPN près de chez moi — Les Espaces Publics Numériques où l'on vous aide gratuitement
        fr other-help [help] Autre aide numérique — E-mail, smartphone, formulaires, connexion aux sites
        nl bruvax-registration [syringe] Een afspraak maken voor het vaccin — Inschrijven op BRUVAX met uw identiteitskaart
        nl bruvax-waiting-list [list] Wachtlijst voor het vaccin — Verwittigd worden zodra er een plaats vrij is
        nl find-dps [map-pin] Een OCR dicht bij huis vinden — De Openbare Computerruimtes waar u gratis hulp krijgt
        nl other-help [help] Andere digitale hulp — E-mail, smartphone, formulieren, aanmelden op sites
        en bruvax-registration [syringe] Book a vaccination appointment — Register on BRUVAX with your identity card
        en bruvax-waiting-list [list] Vaccination waiting list — Be told as soon as a place is free
        en find-dps [map-pin] Find a digital help place near me — The Digital Public Spaces where you get free help
        en other-help [help] Other digital help — E-mail, smartphone, forms, logging in to sites
        de bruvax-registration [syringe] Einen Impftermin buchen — Anmeldung bei BRUVAX mit Ihrem Personalausweis
        de bruvax-waiting-list [list] Warteliste für die Impfung — Benachrichtigt werden, sobald ein Platz frei ist
        de find-dps [map-pin] Einen digitalen Hilfeort in meiner Nähe finden — Die öffentlichen Digitalräume, in denen Sie kostenlos Hilfe bekommen
        de other-help [help] Andere digitale Hilfe — E-Mail, Smartphone, Formulare, Anmelden auf Seiten
    "#]].assert_eq(&out);
}

#[test]
fn bruvax_manual_entry_of_a_bis_number() {
    // A BIS number (month + 40) typed by the steward: accepted, its birth
    // date decides the phase, shown grouped like a register number.
    let f = shipped("bruvax-waiting-list");
    expect![[r#"
        [1/4] identify identify "Votre carte d'identité" pict=id-card
        > manual 85.47.30-033.18 1050
        [1/4] identify identify "Votre carte d'identité" pict=id-card
            error number_check_digits: Ce numéro n'existe pas : un chiffre est sans doute mal tapé. Relisez-le chiffre par chiffre.
        > manual 85.47.30-033.17 1050
        [2/3] check join "Inscrivez la personne sur la liste" pict=keyboard number=85.47.30-033.17 postcode=1050 back undo
        > tick
        [3/3] end on-list "Vous êtes sur la liste d'attente" pict=check back undo outcome=waiting_list
        > finish
        = visit bruvax-waiting-list waiting_list fr manual 30_44 ixelles
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        manual 85.47.30-033.18 1050
        manual 85.47.30-033.17 1050
        tick
        finish
    "));
    expect![[r#"
        [1/4] identify identify "Votre carte d'identité" pict=id-card
        > manual 05.46.12-007.89 1050
        [2/2] end not-yet "Ce n'est pas encore possible" pict=clock back undo outcome=not_yet_eligible
        > finish
        = visit bruvax-waiting-list not_yet_eligible fr manual under_18 ixelles
    "#]].assert_eq(&run(&f, "fr", "2021-06-01", "
        manual 05.46.12-007.89 1050
        finish
    "));
}
