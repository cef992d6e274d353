using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Tests.Storage;

public sealed class AddressKeysTests
{
    [Theory]
    [InlineData(" Alice@Example.COM ", "alice@example.com")]
    [InlineData("user@xn--bcher-kva.de", "user@bücher.de")]
    [InlineData("User@XN--BCHER-KVA.DE", "user@bücher.de")]
    [InlineData("user@BÜCHER.de", "user@bücher.de")]
    [InlineData("xn--bcher-kva@example.com", "xn--bcher-kva@example.com")]
    [InlineData("user@xn--zz.de", "user@xn--zz.de")]
    [InlineData("user@[192.0.2.1]", "user@[192.0.2.1]")]
    [InlineData("not-an-address", "not-an-address")]
    public void AnAddressHasOneKeyWhateverTheCaseOrTheFormOfItsDomain(string address, string key) =>
        Assert.Equal(key, AddressKeys.Of(address));

    [Fact]
    public void AnInternationalKeyIsAlsoLookedUpInItsPunycodeForm()
    {
        Assert.Equal(["user@bücher.de", "user@xn--bcher-kva.de"], AddressKeys.StoredForms("user@bücher.de"));
        Assert.Equal(["user@example.com"], AddressKeys.StoredForms("user@example.com"));
        Assert.Equal(["üser@example.com"], AddressKeys.StoredForms("üser@example.com"));
    }
}
