using System.Security.Cryptography;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Delivery.Tests.Sending;

/// <summary>
/// A command whose content is in the content store (<see cref="SendEmail.StoredContent"/>) is built from the stored
/// bodies and attachments; when the store no longer has them, its recipients fail without any SMTP.
/// </summary>
public sealed class StoredContentSendingTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task StoredBodiesAndAttachmentsAreSentAsTheyWereAccepted(TestStore store)
    {
        var pdf = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        var logo = RandomNumberGenerator.GetBytes(20_000);
        var html = "<p>Your statement, <img src=\"cid:logo@acme\"></p>" + new string('x', 300_000);
        var email = TestEmails.Create(html: html, text: "Your statement.", attachments:
        [
            new EmailAttachment("statement.pdf", "application/pdf", null, pdf),
            new EmailAttachment("logo.png", "image/png", "logo@acme", logo),
        ]);
        var (command, content) = StoredContents.Offload(email, inlineLimit: 0, DateTime.UtcNow, DateTime.UtcNow.AddDays(7));
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store);
        await StoreAsync(host, content!);

        await host.SendAsync(command);

        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");
        var message = MimeMessage.Load(new MemoryStream(Assert.Single(_relay.Received).Raw));
        Assert.Equal(email.MessageId, message.MessageId);
        Assert.Equal(html, message.HtmlBody);
        Assert.Equal("Your statement.", message.TextBody?.TrimEnd());
        Assert.Equal(SHA256.HashData(pdf), SHA256.HashData(Content(message.Attachments.OfType<MimePart>().Single(a => a.FileName == "statement.pdf"))));
        var inline = message.BodyParts.OfType<MimePart>().Single(p => p.ContentId == "logo@acme");
        Assert.Equal(SHA256.HashData(logo), SHA256.HashData(Content(inline)));

        // What the worker keeps for its retries is the command as it came: the reference, not the content.
        var kept = await host.QueryAsync(db => db.RetryMessages.AsNoTracking().Where(m => m.EmailId == email.EmailId).Select(m => m.Command).SingleOrDefaultAsync());
        Assert.True(kept is null || kept.Length < 4096, $"the kept command is {kept?.Length} characters long");
    }

    [Fact]
    public async Task StoredRawMessageIsSentWithItsBodyUnchanged()
    {
        var body = System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(RandomNumberGenerator.GetBytes(150_000), Base64FormattingOptions.InsertLineBreaks));
        var raw = "From: reports@acme.test\r\nTo: alice@example.com\r\nSubject: Report\r\nMessage-ID: <r-1@acme.test>\r\n\r\n"u8.ToArray().Concat(body).ToArray();
        var email = TestEmails.Create() with { RawMessage = raw, MessageId = "r-1@acme.test" };
        var (command, content) = StoredContents.Offload(email, inlineLimit: 1024, DateTime.UtcNow, DateTime.UtcNow.AddDays(7));
        Assert.Null(command.RawMessage);
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        await StoreAsync(host, content!);

        await host.SendAsync(command);

        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");
        var received = Assert.Single(_relay.Received).Raw;
        Assert.True(received.AsSpan().IndexOf(body) >= 0, "the raw body arrived changed");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task CommandWhoseStoredContentIsGoneFailsItsRecipientsWithoutSmtp(TestStore store)
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"], html: new string('x', 5000));
        var (command, _) = StoredContents.Offload(email, inlineLimit: 0, DateTime.UtcNow, DateTime.UtcNow.AddDays(7));
        await using var proxy = new CountingProxy(_relay.Port);
        await using var host = await DeliveryHost.StartAsync(proxy.Port, store);
        await host.QueryAsync(async db =>
        {
            await ContentStoreTables.CreateAsync(db);
            return 0;
        });

        await host.SendAsync(command);

        var failed = await host.WaitForAsync<EmailFailed>(f => f.Count == 2, "both recipients to fail");
        Assert.All(failed, f => Assert.Contains("no longer in the content store", f.Reason, StringComparison.Ordinal));
        Assert.Equal(0, proxy.Sessions);
        Assert.Empty(_relay.Received);
        Assert.False(await host.Harness.Published.Any<EmailDelivered>());
        var states = await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId).Select(d => d.State).ToListAsync());
        Assert.Equal([DeliveryState.Failed, DeliveryState.Failed], states);
    }

    /// <summary>Writes the content as the ingress does with the accept, in the host's store.</summary>
    private static Task StoreAsync(DeliveryHost host, EmailContentRecord content) => host.QueryAsync(async db =>
    {
        await ContentStoreTables.CreateAsync(db);
        db.Set<EmailContentRecord>().Add(content);
        return await db.SaveChangesAsync();
    });

    private static byte[] Content(MimePart part)
    {
        using var stream = new MemoryStream();
        part.Content!.DecodeTo(stream);
        return stream.ToArray();
    }
}
