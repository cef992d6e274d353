using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Support;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>Attachments arrive as base64 content; the server never fetches a <c>path</c>.</summary>
public sealed class AttachmentValidationTests
{
    [Fact]
    public void AttachmentByPathIsRefused()
    {
        var result = Validate(new AttachmentRequest("invoice.pdf", null, null, null, "https://files.example.test/invoice.pdf"));

        var message = Assert.Single(SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[0].path"));
        Assert.Contains("not supported", message, StringComparison.Ordinal);
    }

    [Fact]
    public void AttachmentWithBothPathAndContentIsRefused()
    {
        var result = Validate(new AttachmentRequest("invoice.pdf", "aGk=", null, null, "https://files.example.test/invoice.pdf"));

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[0].path");
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("aGk")]
    [InlineData("aGk=x")]
    [InlineData("")]
    [InlineData(null)]
    public void ContentThatIsNotBase64IsRefused(string? content)
    {
        var result = Validate(new AttachmentRequest("notes.txt", content, null, null, null));

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[0].content");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void AttachmentWithoutFilenameIsRefused(string? filename)
    {
        var result = Validate(new AttachmentRequest(filename, "aGk=", null, null, null));

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[0].filename");
    }

    [Fact]
    public void Base64ContentIsDecodedToTheSameBytes()
    {
        byte[] bytes = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, (byte)'\r', (byte)'\n'];

        var result = Validate(new AttachmentRequest("blob.bin", Convert.ToBase64String(bytes), null, null, null));

        Assert.NotNull(result.Email);
        var attachment = Assert.Single(result.Email.Attachments);
        Assert.Equal(bytes, attachment.Content);
        Assert.Equal("blob.bin", attachment.Filename);
    }

    [Fact]
    public void LargeBase64ContentIsDecodedWhole()
    {
        var bytes = new byte[300_001];
        new Random(42).NextBytes(bytes);

        var result = Validate(new AttachmentRequest("photo.jpg", Convert.ToBase64String(bytes), null, null, null));

        Assert.NotNull(result.Email);
        Assert.Equal(bytes, Assert.Single(result.Email.Attachments).Content);
    }

    [Theory]
    [InlineData("invoice.pdf", "application/pdf")]
    [InlineData("notes.txt", "text/plain")]
    [InlineData("logo.png", "image/png")]
    [InlineData("data.zzz-unknown", "application/octet-stream")]
    public void ContentTypeIsInferredFromTheFilename(string filename, string expected)
    {
        var result = Validate(new AttachmentRequest(filename, "aGk=", null, null, null));

        Assert.NotNull(result.Email);
        Assert.Equal(expected, Assert.Single(result.Email.Attachments).ContentType);
    }

    [Fact]
    public void GivenContentTypeWins()
    {
        var result = Validate(new AttachmentRequest("export.txt", "aGk=", "text/csv", null, null));

        Assert.NotNull(result.Email);
        Assert.Equal("text/csv", Assert.Single(result.Email.Attachments).ContentType);
    }

    [Theory]
    [InlineData("not a type")]
    [InlineData("text/plain\r\nBcc: victim@example.test")]
    public void InvalidContentTypeIsRefused(string contentType)
    {
        var result = Validate(new AttachmentRequest("notes.txt", "aGk=", contentType, null, null));

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[0].content_type");
    }

    [Fact]
    public void ContentIdWithControlCharactersIsRefused()
    {
        var result = Validate(new AttachmentRequest("logo.png", "aGk=", null, "logo\r\nBcc: victim@example.test", null));

        Assert.Null(result.Email);
        Assert.True(result.Errors.ContainsKey("attachments[0].content_id"));
    }

    [Fact]
    public void InlineAttachmentKeepsItsContentId()
    {
        var result = Validate(new AttachmentRequest("logo.png", "aGk=", null, "logo", null));

        Assert.NotNull(result.Email);
        Assert.Equal("logo", Assert.Single(result.Email.Attachments).ContentId);
    }

    [Fact]
    public void ErrorsNameTheIndexOfTheBadAttachment()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with
        {
            Attachments =
            [
                new AttachmentRequest("ok.txt", "aGk=", null, null, null),
                new AttachmentRequest("bad.txt", "%%%", null, null, null),
            ],
        }, SendBodies.Limits);

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments[1].content");
        Assert.DoesNotContain(result.Errors.Keys, k => k.StartsWith("attachments[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void MoreThanOneHundredAttachmentsAreRefused()
    {
        var many = Enumerable.Range(0, AttachmentReader.MaxAttachments + 1)
            .Select(i => new AttachmentRequest($"a{i}.txt", "aGk=", null, null, null))
            .ToList();

        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Attachments = many }, SendBodies.Limits);

        SendEmailValidatorTests.AssertInvalid(result, "invalid_attachment", "attachments");
    }

    private static ValidationResult Validate(AttachmentRequest attachment) =>
        SendEmailValidator.Validate(SendBodies.Minimal() with { Attachments = [attachment] }, SendBodies.Limits);
}
