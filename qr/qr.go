package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/otpknock/otpknock/provision"
	"github.com/pquerna/otp"
)

// PNG returns uri as a QR code PNG of size x size pixels.
func PNG(uri string, size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, fmt.Errorf("drawing QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encoding PNG: %w", err)
	}
	return b.Bytes(), nil
}

// Limits on a QR code PNG to read. A provisioning URI's QR code needs a
// few hundred pixels a side and some KiB; the limits refuse images whose
// decoding would take hundreds of MiB before anything is allocated.
const (
	MaxPNGBytes = provision.MaxFileBytes // bytes of the file
	MaxPNGSide  = 4096                   // pixels, width and height each
	minPNGSide  = 21                     // the smallest QR code, one pixel a module
)

// ErrNoQR is returned when an image holds no QR code the reader can find.
var ErrNoQR = errors.New("no readable QR code in the image: import the otpauth:// URI instead")

// maxFinderCandidates bounds the reader's search for a code's three
// finder patterns. The search keeps every pattern-like shape it meets as
// a candidate, compares each shape it meets with all of them, and then
// tries every three: an image tiled with patterns of a few sizes gives it
// tens of thousands of candidates and minutes of work. A code's image has
// its three and perhaps a few false ones.
const maxFinderCandidates = 100

// ErrTooComplex is returned for an image with more candidate finder
// patterns than a QR code's image has: the reader stops searching it.
var ErrTooComplex = fmt.Errorf("image too complex for a QR code (more than %d finder pattern candidates): import the otpauth:// URI instead", maxFinderCandidates)

// tooComplex is the panic by which the candidate count stops the reader.
type tooComplex struct{}

// DecodeQR returns the text of the QR code in img. It tries the reader's
// search for a code in a photo first and then reads the image as a bare
// code, as PNG writes it, which the search sometimes misjudges. It
// returns ErrTooComplex when the search meets more than
// maxFinderCandidates pattern-like shapes.
func DecodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("reading QR code: %w", err)
	}
	for _, hints := range []map[gozxing.DecodeHintType]interface{}{
		{gozxing.DecodeHintType_TRY_HARDER: true},
		{gozxing.DecodeHintType_TRY_HARDER: true, gozxing.DecodeHintType_PURE_BARCODE: true},
	} {
		text, err := decodeBounded(bmp, hints)
		if err == nil || errors.Is(err, ErrTooComplex) {
			return text, err
		}
	}
	return "", ErrNoQR
}

// decodeBounded runs the reader with hints on bmp, counting the
// candidate patterns it reports and stopping it past
// maxFinderCandidates.
func decodeBounded(bmp *gozxing.BinaryBitmap, hints map[gozxing.DecodeHintType]interface{}) (text string, err error) {
	candidates := 0
	hints[gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK] = gozxing.ResultPointCallback(func(gozxing.ResultPoint) {
		if candidates++; candidates > maxFinderCandidates {
			panic(tooComplex{})
		}
	})
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(tooComplex); !ok {
				panic(p)
			}
			text, err = "", ErrTooComplex
		}
	}()
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// ReadPNG reads a PNG image of at most MaxPNGBytes and returns the text
// of its QR code.
func ReadPNG(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPNGBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading PNG: %w", err)
	}
	if len(data) > MaxPNGBytes {
		return "", fmt.Errorf("PNG too large: more than %d MiB", MaxPNGBytes>>20)
	}
	return DecodePNG(data)
}

// DecodePNG returns the text of the QR code in the PNG image data. The
// image's header is checked first: an image wider or higher than
// MaxPNGSide is refused without decoding it.
func DecodePNG(data []byte) (string, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not a PNG image: %w", err)
	}
	if cfg.Width > MaxPNGSide || cfg.Height > MaxPNGSide {
		return "", fmt.Errorf("PNG image of %dx%d pixels too large: a QR code needs at most %dx%d", cfg.Width, cfg.Height, MaxPNGSide, MaxPNGSide)
	}
	if cfg.Width < minPNGSide || cfg.Height < minPNGSide {
		return "", fmt.Errorf("PNG image of %dx%d pixels too small for a QR code", cfg.Width, cfg.Height)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not a PNG image: %w", err)
	}
	return DecodeQR(img)
}
