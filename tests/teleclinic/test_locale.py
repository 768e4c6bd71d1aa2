"""Pages are Chinese first; English only when the user chooses it."""
def test_pages_are_chinese_even_for_an_english_browser_until_the_user_switches(client):
    # given a browser that asks for English
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    # then the page is Chinese first
    assert "登录" in page.content.decode()
    # when the user picks English with the switch, then English
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert "Log in" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
