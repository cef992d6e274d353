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

    [Fact]
    public void HtmlWithMoreElementsThanTheLimitGivesNoText()
    {
        static string Nested(int depth) => string.Concat(Enumerable.Repeat("<div>", depth)) + "Hi" + string.Concat(Enumerable.Repeat("</div>", depth));

        Assert.Equal("Hi", HtmlText.From(Nested(HtmlText.MaxElements)));
        Assert.Null(HtmlText.From(Nested(HtmlText.MaxElements + 1)));
        Assert.Null(HtmlText.From(string.Concat(Enumerable.Repeat("<div>", 20_000))));
    }

    [Theory]
    [InlineData("<div></>")]
    [InlineData("<div></x>")]
    [InlineData("<div><!-- </div> -->")]
    [InlineData("<div><script></div></script>")]
    public void EndTagsThatCloseNothingDoNotLetDeepNestingThrough(string repeated)
    {
        // Each repetition leaves one more div open in the parser, whatever its end tags look like.
        Assert.Null(HtmlText.From(string.Concat(Enumerable.Repeat(repeated, HtmlText.MaxElements + 1))));
    }

    [Fact]
    public void VoidElementsDoNotCount()
    {
        var html = string.Concat(Enumerable.Repeat("<br><img src=x alt=\"\"><hr/>", 2 * HtmlText.MaxElements)) + "<p>Lines</p>";

        Assert.False(HtmlText.OpensMoreThan(html, 1));
        Assert.True(HtmlText.OpensMoreThan("<table><tr><td><div>", 3));
        Assert.NotNull(HtmlText.From(html));
    }

    [Fact]
    public void HtmlLongerThanTheLimitGivesNoText()
    {
        Assert.Null(HtmlText.From("<p>" + new string('x', HtmlText.MaxLength) + "</p>"));
    }
}
