using EmailPlatform.Ingress.Templates;

namespace EmailPlatform.Ingress.Tests.Templates;

public sealed class HtmlTextTests
{
    [Fact]
    public void ParagraphsListsAndLinksBecomeReadableText()
    {
        var text = HtmlText.From("""
            <html><head><title>T</title><style>p { color: red }</style></head><body>
            <h1>Your   order</h1>
            <p>Thanks,<br>Ada &amp; Co.</p>
            <ul><li>One</li><li>Two</li></ul>
            <p><a href="https://acme.test/o/42">View order</a> or mail <a href="mailto:help@acme.test">help@acme.test</a>.</p>
            <script>alert(1)</script>
            </body></html>
            """);

        Assert.Equal("Your order\n\nThanks,\nAda & Co.\n\n- One\n- Two\n\nView order (https://acme.test/o/42) or mail help@acme.test.", text);
    }
}
