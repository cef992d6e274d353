using System.Net.Http.Json;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>A templated email is rendered at accept and arrives at a real SMTP server with the rendered content.</summary>
public sealed class TemplateDeliveryTests
{
    [Fact]
    public async Task TemplatedEmailArrivesRenderedAndEncoded()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        using (var created = await client.PostAsJsonAsync("/v1/templates", new
        {
            name = "Receipt",
            alias = "receipt",
            subject = "Receipt for {{ name }}",
            html = "<p>Thanks, {{ name }}! Total: {{ total }}</p>",
            variables = new object[]
            {
                new { name = "name", type = "string", required = true },
                new { name = "total", type = "number", required = true },
            },
        }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        using (var published = await client.PostAsync(new Uri("/v1/templates/receipt/publish", UriKind.Relative), null))
        {
            Assert.True(published.IsSuccessStatusCode, await published.Content.ReadAsStringAsync());
        }

        var id = await EmailApi.SendAsync(client, new
        {
            from = "billing@acme.test",
            to = "ada@example.test",
            template = new { id = "receipt", variables = new { name = "Ada <b>", total = 42 } },
        });
        var email = await EmailApi.WaitForFinalStateAsync(client, id, TimeSpan.FromSeconds(90));

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        var message = MimeMessage.Load(new MemoryStream(Assert.Single(relay.Received).Raw));
        Assert.Equal("Receipt for Ada <b>", message.Subject);
        Assert.Contains("Thanks, Ada &lt;b&gt;! Total: 42", message.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("Thanks, Ada <b>! Total: 42", message.TextBody, StringComparison.Ordinal);
    }
}
