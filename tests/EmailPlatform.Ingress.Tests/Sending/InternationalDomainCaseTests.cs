using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Authentication;
using MimeKit;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>
/// An internationalized domain in any case is the same domain: the services run with invariant globalization, where
/// IdnMapping folds no case, so BÜCHER.example and bücher.example mapped to different A-labels.
/// </summary>
public sealed class InternationalDomainCaseTests
{
    [Theory]
    [InlineData("bücher.example")]
    [InlineData("BÜCHER.example")]
    [InlineData("Bücher.Example")]
    [InlineData("XN--BCHER-KVA.example")]
    public void EverySpellingHasTheOneAsciiForm(string domain)
    {
        Assert.True(DomainNames.TryToAscii(domain, out var ascii));
        Assert.Equal("xn--bcher-kva.example", ascii);
    }

    [Theory]
    [InlineData("verkauf@bücher.example")]
    [InlineData("verkauf@BÜCHER.EXAMPLE")]
    [InlineData("verkauf@shop.Bücher.example")]
    public void AKeyRestrictedToAnInternationalDomainSendsFromItInAnyCase(string from)
    {
        var key = new ApiKeyIdentity("key", "shop", [ApiKeyScopes.Send], ["xn--bcher-kva.example"], null);

        Assert.Null(EmailAcceptor.CheckSenders(key, MailboxAddress.Parse(from)));
        Assert.NotNull(EmailAcceptor.CheckSenders(key, MailboxAddress.Parse("verkauf@bucher.example")));
    }
}
