using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>
/// <c>Ingress:ReturnPath</c>: the envelope sender of each email names it (<c>bounces+&lt;id&gt;@…</c>), so that a bounce
/// sent back to it finds its email; unset, the envelope sender is the <c>from</c> address.
/// </summary>
public sealed class ReturnPathTests
{
    [Fact]
    public async Task EachEmailsEnvelopeSenderIsTheReturnPathWithItsIdAndTheHeadersAreUnchanged()
    {
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:ReturnPath"] = "bounces@bounce.acme.test" });

        var first = await SendAsync(app);
        var second = await SendAsync(app);

        var commands = new[] { (await app.FindOutboxRowAsync(first))!.Command, (await app.FindOutboxRowAsync(second))!.Command };
        Assert.Equal([$"bounces+{first:N}@bounce.acme.test", $"bounces+{second:N}@bounce.acme.test"], commands.Select(c => c.Envelope.MailFrom));
        Assert.All(commands, c => Assert.Equal("Acme Billing <billing@acme.test>", c.From));
        Assert.All(commands, c => Assert.EndsWith("@acme.test", c.MessageId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutAReturnPathTheEnvelopeSenderIsTheFromAddress()
    {
        await using var app = await IngressApp.StartAsync();

        var id = await SendAsync(app);

        Assert.Equal("billing@acme.test", (await app.FindOutboxRowAsync(id))!.Command.Envelope.MailFrom);
    }

    [Theory]
    [InlineData("bounces")]
    [InlineData("bounces+x@bounce.acme.test")]
    [InlineData("bounces@localhost")]
    [InlineData("Bounces <bounces@bounce.acme.test>")]
    [InlineData("bøunces@bounce.acme.test")]
    public async Task AReturnPathThatIsNotAPlainAddressStopsTheIngressAtStartNamingTheKey(string returnPath)
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:ReturnPath"] = returnPath });
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("Ingress:ReturnPath must be an address such as bounces@bounce.example.com", refused.Message, StringComparison.Ordinal);
    }

    private static async Task<Guid> SendAsync(IngressApp app)
    {
        using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, body);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("id").GetGuid();
    }
}
