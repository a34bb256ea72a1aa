package provision

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/mdp/qrterminal/v3"
	"github.com/pquerna/otp"
)

// WriteQR draws uri as a QR code with half-block characters, two modules
// per character cell, light on dark as terminals usually are.
func WriteQR(w io.Writer, uri string) {
	qrterminal.GenerateWithConfig(uri, qrterminal.Config{
		Level:          qrterminal.L,
		Writer:         w,
		HalfBlocks:     true,
		BlackChar:      qrterminal.BLACK_BLACK,
		WhiteBlackChar: qrterminal.WHITE_BLACK,
		WhiteChar:      qrterminal.WHITE_WHITE,
		BlackWhiteChar: qrterminal.BLACK_WHITE,
		QuietZone:      2,
	})
}

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

// DecodeQR returns the text of the QR code in img.
func DecodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("reading QR code: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", fmt.Errorf("no readable QR code in the image: %w", err)
	}
	return res.GetText(), nil
}

// ReadPNG decodes a PNG image and returns the text of its QR code.
func ReadPNG(r io.Reader) (string, error) {
	img, err := png.Decode(r)
	if err != nil {
		return "", fmt.Errorf("not a PNG image: %w", err)
	}
	return DecodeQR(img)
}
