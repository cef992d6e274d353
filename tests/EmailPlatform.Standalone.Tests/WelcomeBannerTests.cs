namespace EmailPlatform.Standalone.Tests;

/// <summary>The URL the start-up banner shows, and puts in its curls: one to send requests to, never a wildcard.</summary>
public sealed class WelcomeBannerTests
{
    [Theory]
    [InlineData("http://[::]:8080", "http://localhost:8080")]
    [InlineData("http://0.0.0.0:8080", "http://localhost:8080")]
    [InlineData("http://+:8080", "http://localhost:8080")]
    [InlineData("http://*:8099", "http://localhost:8099")]
    [InlineData("https://[::]:8443", "https://localhost:8443")]
    [InlineData("http://localhost:8080", "http://localhost:8080")]
    [InlineData("http://127.0.0.1:8099", "http://127.0.0.1:8099")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080")]
    [InlineData("http://192.168.1.20:8080", "http://192.168.1.20:8080")]
    public void AWildcardAddressIsShownAsLocalhost(string address, string shown) =>
        Assert.Equal(shown, StandaloneDefaults.BrowsableUrl(address));
}
