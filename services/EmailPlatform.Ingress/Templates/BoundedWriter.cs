using System.Text;

namespace EmailPlatform.Ingress.Templates;

/// <summary>
/// Where a render writes: a string buffer that counts what it is given in UTF-8 bytes and throws
/// <see cref="RenderLimitException"/> as soon as the count passes its limit, so that a template looping over large
/// variables stops there instead of building its whole output first (10,000 steps printing 1 KB are 10 MB).
/// One writer serves the parts of one render (<see cref="Take"/> after each), so the limit covers them together.
/// </summary>
internal sealed class BoundedWriter(long limit) : TextWriter
{
    private readonly StringBuilder _text = new();

    /// <summary>Stateful, so that a surrogate pair split between two writes counts as the 4 bytes it is.</summary>
    private readonly Encoder _utf8 = new UTF8Encoding(false).GetEncoder();

    /// <summary>What was written so far, in UTF-8 bytes.</summary>
    public long Bytes { get; private set; }

    public override Encoding Encoding => Encoding.UTF8;

    /// <summary>The part written since the last call.</summary>
    public string Take()
    {
        var text = _text.ToString();
        _text.Clear();
        return text;
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        Bytes += _utf8.GetByteCount(buffer, flush: false);
        if (Bytes > limit)
        {
            throw new RenderLimitException();
        }

        _text.Append(buffer);
    }

    public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(string? value) => Write(value.AsSpan());

    // TextWriter's asynchronous writes would each queue the synchronous one to the thread pool.
    public override Task WriteAsync(char value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(string? value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(char[] buffer, int index, int count)
    {
        Write(buffer, index, count);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return Task.CompletedTask;
    }

    public override Task FlushAsync() => Task.CompletedTask;

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A render wrote more than its <see cref="BoundedWriter"/> allows.</summary>
internal sealed class RenderLimitException() : Exception("The template rendered more than its limit.");
