using System.Net;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Npgsql;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary>
/// <c>GET /v1/emails/{id}</c> through the ingress when the real status service (a process on the same PostgreSQL
/// database, as deployed) has recorded outcomes of an email before its <c>EmailAccepted</c>: outcomes and accept travel
/// on different queues, and the recorder keeps outcomes that come first on an email row without details.
/// </summary>
public sealed class OutcomesBeforeDetailsTests
{
    [Fact]
    public async Task OutcomesRecordedBeforeTheAcceptAreShownWithTheOutboxDetailsNotAsQueued()
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        var apiKey = TestInfrastructure.NewApiKey();
        var shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = database.ConnectionString,
            ["ConnectionStrings__RabbitMq"] = vhost.Uri.ToString(),
            ["Auth__BootstrapKey"] = apiKey,
        };
        await ServiceProcess.RunToCompletionAsync("EmailPlatform.Status", shared, "migrate");
        await using var status = await ServiceProcess.StartAsync("EmailPlatform.Status", shared);

        // The ingress reaches no broker: its EmailAccepted stays in the outbox, as while the lifecycle queue lags behind.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere, database: database, apiKey: apiKey,
            settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url!.ToString() });
        var one = await AcceptAsync(app, SendBodies.Json().ToJsonString());
        var two = await AcceptAsync(app, SendBodies.Json(b => b["cc"] = "Carol <carol@example.test>").ToJsonString());

        // The worker's outcomes reach the status service first: the one recipient of the first email delivered, the To
        // of the second bounced and its Cc not sent to yet.
        var outcomes = new object[]
        {
            new EmailDelivered(NewId.NextGuid(), one, "alice@example.test", "relay-a", 1, new SmtpReply(250, "2.0.0", "OK"), DateTimeOffset.UtcNow),
            new EmailBounced(NewId.NextGuid(), two, "alice@example.test", "relay-a", 1, new SmtpReply(550, "5.1.1", "User unknown"), DateTimeOffset.UtcNow),
        };
        await PublishUntilRecordedAsync(vhost.Uri, database.ConnectionString, outcomes);

        using var client = app.CreateClient();
        using var delivered = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{one}", UriKind.Relative)));
        var email = delivered.RootElement;
        Assert.Equal((one, "delivered", "delivered"),
            (email.GetProperty("id").GetGuid(), email.GetProperty("last_event").GetString(), email.GetProperty("status").GetString()));
        Assert.Equal("Acme Billing <billing@acme.test>", email.GetProperty("from").GetString());
        Assert.Equal("Your receipt", email.GetProperty("subject").GetString());
        Assert.Equal(["alice@example.test"], email.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.NotEqual(JsonValueKind.Null, email.GetProperty("created_at").ValueKind);
        Assert.EndsWith("@acme.test", email.GetProperty("message_id").GetString(), StringComparison.Ordinal);
        Assert.Equal([("alice@example.test", "to", "delivered")], Recipients(email));
        Assert.Contains("email.delivered", email.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()));

        // One recipient still to be heard of: the email is not final, and shows the outcome it has.
        using var partly = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{two}", UriKind.Relative)));
        Assert.Equal(("queued", "queued"), (partly.RootElement.GetProperty("last_event").GetString(), partly.RootElement.GetProperty("status").GetString()));
        Assert.Equal([("alice@example.test", "to", "bounced"), ("carol@example.test", "cc", "queued")], Recipients(partly.RootElement));
        Assert.Equal("Your receipt", partly.RootElement.GetProperty("subject").GetString());
    }

    private static List<(string?, string?, string?)> Recipients(JsonElement email) =>
        [.. email.GetProperty("recipients").EnumerateArray()
            .Select(r => (r.GetProperty("email").GetString(), r.GetProperty("type").GetString(), r.GetProperty("status").GetString()))];

    /// <summary>
    /// Publishes the events until the status service has recorded them all: its queues are bound once its bus is up, and an
    /// event published before that is dropped by the exchange. A repeat is recorded once (by event id).
    /// </summary>
    private static async Task PublishUntilRecordedAsync(Uri rabbitMq, string connectionString, object[] events)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(rabbitMq));
        await bus.StartAsync();
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await Eventually.GetAsync(
                async () =>
                {
                    foreach (var @event in events)
                    {
                        await bus.Publish(@event, @event.GetType());
                    }

                    await Task.Delay(200);
                    await using var command = new NpgsqlCommand("SELECT count(*) FROM events", connection);
                    return (long)(await command.ExecuteScalarAsync())!;
                },
                recorded => recorded >= events.Length, TimeSpan.FromSeconds(60), "the outcomes recorded by the status service");
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    private static async Task<Guid> AcceptAsync(IngressApp app, string json)
    {
        using var response = await app.PostEmailAsync(json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }
}
