"""The Russian stemmer behind full-text search on SQLite."""
from runtime.data.stemming import search_term, stem


def test_word_forms_share_a_stem():
    assert {stem(w) for w in ("пароль", "пароля", "паролей", "паролем", "пароли")} == {"парол"}
    assert {stem(w) for w in ("отчёт", "отчёты", "отчёта")} == {"отчет"}
    assert stem("инструкции") == stem("инструкция")


def test_search_terms_keep_the_words_letters_and_leave_other_scripts():
    assert search_term("Отчёты") == "отчёт"
    assert search_term("printer") == "printer"
    assert search_term("1С") == "1С"
